"""Published model files: a training checkpoint stripped to its weights plus the meta to use them.

Like MMPose's ``publish_model.py``: optimizer, scheduler, scaler, RNG and history are dropped,
the EMA weights (when present) become the model weights, and the file is named
``<name>-<sha256[:8]>.pth`` after its own bytes. A published pose model also carries everything
inference needs (dataset meta, codec config, preset, input size, flip indices), so no config
file travels with it. A published detector keeps the training checkpoint's layout (``model``
and ``config``), so ``load_detector`` reads it as it reads a training checkpoint.

The bytes are deterministic: publishing the same checkpoint with the same metrics and lineage
gives the same file name.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pose.codecs import codec_config
from pose.data.meta import DatasetMeta
from pose.engine.checkpoint import load_checkpoint, model_state
from pose.errors import CheckpointError, ConfigError
from pose.evaluation.keys import VAL_KEYS
from pose.recipes.init import init_summary
from pose.fileio import sha256_file, write_bytes
from pose.modelio.onnx import output_shapes
from pose.models import TopdownPoseEstimator
from pose.params import PoseParams
from pose.recipes.topdown import build_pose_model, model_from_checkpoint

FORMAT = "posepipe.published"
FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HASHED = re.compile(r"-([0-9a-f]{8})\.pth$")


@dataclass(frozen=True)
class PublishedModel:
    """Where a publish went: the ``.pth``, its model card, its hash and the stored meta."""

    path: Path
    card: Path | None
    sha256: str
    name: str
    meta: dict[str, Any] = field(repr=False)
    onnx: Path | None = None
    onnx_report: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Packed:
    """A published file's bytes before they are written: named ``<name>-<sha8>.pth`` after them."""

    name: str
    data: bytes = field(repr=False)
    sha256: str
    meta: dict[str, Any] = field(repr=False)

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.sha256[:8]}"

    def write(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/<stem>.pth`` atomically; returns its path."""
        path = Path(out_dir) / f"{self.stem}.pth"
        write_bytes(path, self.data)
        return path


def _plain(obj: Any) -> Any:
    """JSON-able builtins only (numpy scalars become floats), so ``weights_only`` can load it."""
    return json.loads(json.dumps(obj, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _pack(name: str, payload: dict[str, Any], meta: dict[str, Any]) -> Packed:
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    return Packed(name=name, data=data, sha256=hashlib.sha256(data).hexdigest(), meta=meta)


def _weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _source(checkpoint: Path, state: dict[str, Any]) -> dict[str, Any]:
    return {"checkpoint": checkpoint.name, "epoch": state.get("epoch"), "weights": "ema" if state.get("ema") else "model"}


def best_metrics(state: dict[str, Any]) -> dict[str, float]:
    """Evaluation metrics of the best epoch in a checkpoint's history (by AP), else the last one."""
    evals = [h for h in state.get("history") or [] if isinstance(h, dict) and any(k in h for k in VAL_KEYS)]
    if not evals:
        return {}
    best = max(evals, key=lambda h: h.get("AP", float("-inf")))
    return {k: float(best[k]) for k in VAL_KEYS if k in best} | {"epoch": int(best.get("epoch", 0))}


def pack_pose(checkpoint: str | Path, *, name: str | None = None, metrics: dict[str, Any] | None = None,
              lineage: dict[str, Any] | None = None) -> tuple[TopdownPoseEstimator, Packed]:
    """The published bytes of a pose training checkpoint (``name`` default ``<dataset>-<preset>``,
    ``metrics`` default the best epoch's) and the model they hold, for the ONNX export beside them."""
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint)
    model, meta, cfg = model_from_checkpoint(checkpoint)
    name = name or f"{meta.name}-{cfg['preset']}"
    if not _NAME.match(name):
        raise ConfigError(f"model name {name!r} may only hold letters, digits, '.', '_' and '-'", entry="--name")
    info = _plain({
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": "pose", "name": name,
        "preset": cfg["preset"], "input_size": list(model.input_size), "num_keypoints": meta.num_keypoints,
        "codec": codec_config(model.codec), "flip_indices": model.flip_indices, "flip_test": model.flip_test,
        "dataset_meta": meta.to_dict(), "params": cfg["params"],
        "metrics": metrics if metrics is not None else best_metrics(state),
        "lineage": lineage or {}, "init": init_summary(state["config"]), "outputs": output_shapes(model),
        "source": _source(checkpoint, state),
    })
    return model, _pack(name, {"state_dict": _weights(model.state_dict()), "meta": info}, info)


def pack_detector(checkpoint: str | Path, *, name: str, metrics: dict[str, float] | None = None,
                  lineage: dict[str, Any] | None = None) -> Packed:
    """The published bytes of a detector training checkpoint: its ``config`` plus metrics, lineage, source."""
    state = load_checkpoint(checkpoint)
    weights = model_state(state, checkpoint)
    config = {**state["config"], "metrics": dict(metrics or {}), "lineage": dict(lineage or {}),
              "init_summary": init_summary(state["config"]), "source": _source(Path(checkpoint), state)}
    return _pack(name, {"model": _weights(weights), "config": config}, config)


def publish_detector(checkpoint: str | Path, out_dir: str | Path, *, name: str, metrics: dict[str, float] | None = None,
                     lineage: dict[str, Any] | None = None) -> tuple[Path, str]:
    """Strip ``checkpoint`` into ``out_dir/<name>-<sha8>.pth``; returns (path, sha256)."""
    packed = pack_detector(checkpoint, name=name, metrics=metrics, lineage=lineage)
    return packed.write(out_dir), packed.sha256


def is_published(state: dict[str, Any]) -> bool:
    """Whether a loaded file is a published pose model (not a training checkpoint)."""
    return isinstance(state.get("meta"), dict) and state["meta"].get("format") == FORMAT


def load_published(path: str | Path, *, device: str | torch.device = "cpu",
                   verify: bool = True) -> tuple[TopdownPoseEstimator, DatasetMeta, dict[str, Any]]:
    """Rebuild a published model (``weights_only`` load). With ``verify``, a file whose bytes no
    longer match the hash in its name is refused. ``info`` is the stored meta plus ``sha256``."""
    path = Path(path)
    state = load_checkpoint(path)
    if not is_published(state):
        raise CheckpointError("not a published posepipe model (no published meta inside)", file=path,
                              hint="a training checkpoint? use `pose publish` first, or load_any_pose")
    info = state["meta"]
    sha = sha256_file(path)
    m = _HASHED.search(path.name)
    if verify and m and not sha.startswith(m.group(1)):
        raise CheckpointError(f"file changed since publishing (sha256 {sha[:8]}, name says {m.group(1)})", file=path)
    try:
        meta = DatasetMeta.from_dict(info["dataset_meta"], source=f"{path}:meta.dataset_meta")
        params = PoseParams.model_validate(info["params"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"published meta is incomplete ({e})", file=path) from None
    model = build_pose_model(params, meta)
    try:
        model.load_state_dict(model_state(state, path))
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit preset '{info.get('preset')}' ({' '.join(str(e).split())[:160]})", file=path) from None
    model.flip_test = bool(info.get("flip_test", model.flip_test))
    return model.to(device).eval(), meta, {**info, "sha256": sha, "path": str(path)}
