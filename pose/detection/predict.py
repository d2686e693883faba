"""Detector inference: rebuild a model from its training checkpoint, detect on BGR images.

A training checkpoint's ``config`` (``checkpoint_config``) holds everything needed to rebuild
the network: preset, number of classes, class names and category ids, input size. ``detect``
resizes like training does (long side = input size, ``cv2.INTER_AREA``), runs batches, maps
boxes back to image pixels, then filters by class and score and applies class-aware NMS.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

from pose.detection.dataset import resize_long_side, to_tensor
from pose.detection.none import refuse_marker
from pose.detection.presets import build_detector
from pose.engine.checkpoint import load_checkpoint, model_state
from pose.errors import CheckpointError, ConfigError

KIND = "detector"
Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (N, 4) float32 xyxy, scores (N,) float32, labels (N,) int64


@dataclass(frozen=True)
class DetectorInfo:
    """What a detector checkpoint says about its model; label ``i + 1`` is ``class_names[i]``."""

    preset: str
    input_size: int
    class_names: list[str]
    category_ids: list[int]
    config: dict[str, Any]

    @property
    def num_classes(self) -> int:
        """Including the background, as torchvision counts."""
        return len(self.class_names) + 1


def checkpoint_config(preset: str, input_size: int, class_names: Sequence[str], category_ids: Sequence[int],
                      params: dict[str, Any] | None = None, data: str | None = None) -> dict[str, Any]:
    """The ``config`` a detector checkpoint carries (``data``: the training data's fingerprint)."""
    return {"kind": KIND, "preset": preset, "input_size": int(input_size), "num_classes": len(class_names) + 1,
            "class_names": list(class_names), "category_ids": [int(c) for c in category_ids], "params": params or {},
            "data": data}


def load_detector(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[nn.Module, DetectorInfo]:
    """The detector of a training checkpoint (EMA weights when present), in eval mode on ``device``."""
    state = load_checkpoint(path, map_location="cpu")
    cfg = state.get("config")
    if not isinstance(cfg, dict) or cfg.get("kind") != KIND:
        raise CheckpointError("not a detector checkpoint (no detector config inside)", file=path, hint="train one with `pose train-det`")
    refuse_marker(cfg, path)
    try:
        info = DetectorInfo(preset=str(cfg["preset"]), input_size=int(cfg["input_size"]), class_names=[str(n) for n in cfg["class_names"]],
                            category_ids=[int(c) for c in cfg["category_ids"]], config=cfg)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"detector config is incomplete ({e})", file=path, entry="config") from None
    if int(cfg.get("num_classes", info.num_classes)) != info.num_classes:
        raise CheckpointError(f"num_classes {cfg['num_classes']} does not match {len(info.class_names)} class names + background",
                              file=path, entry="config.num_classes")
    model = build_detector(info.preset, len(info.class_names), info.input_size)
    try:
        model.load_state_dict(model_state(state, path))
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit preset '{info.preset}' ({' '.join(str(e).split())[:160]})", file=path) from None
    return model.to(device).eval(), info


def input_size_of(model: nn.Module) -> int:
    """The long side the detector's own transform scales to."""
    return int(model.transform.max_size)


@torch.no_grad()
def detect(model: nn.Module, images: list[np.ndarray], *, score_thr: float = 0.3, nms_thr: float | None = 0.5,
           classes: Collection[int] | None = None, batch_size: int = 16) -> list[Detections]:
    """Boxes per image (BGR uint8 arrays) in image pixels, best first.

    Keeps labels in ``classes`` (1-based model labels; None = all), scores >= ``score_thr``, then
    class-aware NMS at IoU ``nms_thr`` (None skips it; the model already ran its own NMS).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}", entry="batch_size")
    model.eval()
    size = input_size_of(model)
    wanted = None if classes is None else torch.as_tensor(sorted(classes), dtype=torch.int64)
    out: list[Detections] = []
    for start in range(0, len(images), batch_size):
        chunk = [resize_long_side(_check_image(im, start + j), size) for j, im in enumerate(images[start : start + batch_size])]
        raw = forward(model, [to_tensor(im) for im, _ in chunk], [s for _, s in chunk])
        for boxes, scores, labels in raw:
            keep = scores >= score_thr
            if wanted is not None:
                keep &= torch.isin(labels, wanted)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            if nms_thr is not None and len(boxes):
                kept = batched_nms(boxes, scores, labels, nms_thr)
                boxes, scores, labels = boxes[kept], scores[kept], labels[kept]
            order = torch.argsort(scores, descending=True)
            out.append((boxes[order].numpy().astype(np.float32).reshape(-1, 4), scores[order].numpy().astype(np.float32),
                        labels[order].numpy().astype(np.int64)))
    return out


@torch.no_grad()
def forward(model: nn.Module, tensors: list[torch.Tensor], scales: Sequence[float]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The model's own detections for input tensors (already at input size), boxes divided by ``scales``, on the CPU.

    Label 0 (background) is dropped: sigmoid heads (FCOS) score it like any class; so are
    degenerate boxes (zero width or height), which no crop can be made from.
    """
    device = next(model.parameters()).device
    out = []
    for p, s in zip(model([t.to(device) for t in tensors]), scales):
        b = p["boxes"]
        fg = (p["labels"] > 0) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        out.append((p["boxes"][fg].float().cpu() / float(s), p["scores"][fg].float().cpu(), p["labels"][fg].cpu()))
    return out


def _check_image(image: Any, index: int) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        shape = getattr(image, "shape", None)
        raise ConfigError(f"images[{index}] must be a BGR uint8 array (H, W, 3), got {type(image).__name__} {shape}", entry=f"images[{index}]")
    return image
