"""Training checkpoints: atomic save, ``weights_only`` load, RNG capture, weight loading with a report.

A checkpoint is a plain dict of tensors and builtins (model, optimizer, scheduler, scaler, EMA,
RNG states, epoch, iteration, config), so ``torch.load(weights_only=True)`` can read it and a
file that would run code on load is refused.
"""

from __future__ import annotations

import errno
import os
import pickle
import struct
import random
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from pose.errors import CheckpointError
from pose.fileio import atomic_path

LATEST = "latest.pth"
BEST = "best.pth"


class _Writer:
    """A file wrapper that remembers the first ``OSError`` of ``write``: torch reports a failed
    write as an opaque "unexpected pos" ``RuntimeError``, this keeps the real cause (ENOSPC, EFBIG)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        self.f.flush()


def _reason(e: OSError) -> str:
    return "disk full" if e.errno == errno.ENOSPC else (e.strerror or str(e))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` via a temp file; on any failure the old file stays intact."""
    path = Path(path)
    writer: _Writer | None = None
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                writer = _Writer(f)
                torch.save(state, writer)
                f.flush()
                os.fsync(f.fileno())
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint ({_reason(e)}); the previous checkpoint is intact", file=path) from None
    except RuntimeError as e:
        what = _reason(writer.error) if writer is not None and writer.error is not None else " ".join(str(e).split())[:160]
        raise CheckpointError(f"cannot write checkpoint ({what}); the previous checkpoint is intact", file=path) from None


def remove_stale_temps(work_dir: str | Path) -> list[Path]:
    """Delete temp files of checkpoint writes a killed run left in ``work_dir`` (never a finished checkpoint)."""
    stale = [p for name in (LATEST, BEST) for p in Path(work_dir).glob(f".{name}.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; clear errors for missing, corrupt or unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", file=path)
    if path.stat().st_size == 0:
        raise CheckpointError("checkpoint is empty (0 bytes)", file=path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "GLOBAL" in msg or "global" in msg:
            raise CheckpointError(
                "refused: the file holds Python objects that would run code on load (not a posepipe checkpoint)",
                file=path,
                hint="only load checkpoints you trust; posepipe never unpickles arbitrary objects",
            ) from None
        raise CheckpointError("corrupt checkpoint or not a checkpoint at all (cannot unpickle)", file=path) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, struct.error) as e:
        raise CheckpointError(f"corrupt or truncated checkpoint ({' '.join(str(e).split())[:120]})", file=path) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"not a posepipe checkpoint (top level is {type(state).__name__})", file=path)
    return state


def rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global) and torch RNG states, as weights_only-loadable values."""
    np_state = np.random.get_state()
    out: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(v: Any) -> Any:
    return tuple(_as_tuple(x) for x in v) if isinstance(v, (list, tuple)) else v


@dataclass
class LoadReport:
    """What ``load_weights`` could not match."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: (ckpt shape) vs (model shape)"

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def lines(self) -> list[str]:
        out = []
        for name, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("shape mismatch", self.mismatched)):
            if keys:
                more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
                out.append(f"{name} keys: {', '.join(keys[:5])}{more}")
        return out


def load_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> LoadReport:
    """Load matching weights (``--load-from``); report missing, unexpected and shape-mismatched keys."""
    own = model.state_dict()
    report = LoadReport()
    usable = {}
    for k, v in state_dict.items():
        if k not in own:
            report.unexpected.append(k)
        elif own[k].shape != v.shape:
            report.mismatched.append(f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}")
        else:
            usable[k] = v
    report.missing = [k for k in own if k not in state_dict]
    model.load_state_dict(usable, strict=False)
    return report


def model_state(state: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The weights inside a training checkpoint (EMA preferred) or a published model."""
    for key in ("ema", "model", "state_dict"):
        sd = state.get(key)
        if isinstance(sd, dict) and sd and all(isinstance(v, torch.Tensor) for v in sd.values()):
            return sd
    raise CheckpointError("no model weights in checkpoint (expected 'model' or 'ema')", file=path)
