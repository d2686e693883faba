"""The model loaders inference and publishing share: a pose model from any of its files, and the
detector (a training checkpoint and a published detector have the same layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pose.data.meta import DatasetMeta
from pose.detection.predict import DetectorInfo, load_detector
from pose.engine.checkpoint import load_checkpoint
from pose.modelio.onnx import OnnxPoseModel
from pose.modelio.published import is_published, load_published
from pose.recipes.topdown import model_from_checkpoint

__all__ = ["DetectorInfo", "load_any_pose", "load_detector"]


def load_any_pose(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[Any, DatasetMeta | None, dict[str, Any]]:
    """A pose model from a training checkpoint, a published ``.pth`` or an exported ``.onnx``
    (an ``OnnxPoseModel``), with its dataset meta and info: inference needs no config file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        runtime = OnnxPoseModel(path)
        dm = runtime.meta.get("dataset_meta")
        meta = DatasetMeta.from_dict(dm, source=f"{path}:metadata.dataset_meta") if dm else None
        return runtime, meta, {**runtime.meta, "path": str(path), "kind": "onnx"}
    if is_published(load_checkpoint(path)):
        return load_published(path, device=device)
    model, meta, cfg = model_from_checkpoint(path, device=device)
    return model, meta, {**cfg, "path": str(path), "kind": "checkpoint"}
