"""Top-down inference: load a pose model (training checkpoint, published .pth or .onnx) and a
detector, crop every box of an image into one batch, and map keypoints back to image pixels.

Crops follow the evaluation dataset exactly (``TopdownDataset`` with ``train=False``): box ->
centre/scale with padding 1.25, aspect ratio fixed to the input size, rotation 0, one
``cv2.warpAffine`` per crop, uint8 RGB NCHW into the model, ``input_to_image`` back. So
``inference_topdown`` on a set of boxes gives what ``pose test`` gives on the same boxes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pose.data.coco import xyxy_to_xywh
from pose.data.meta import DatasetMeta, load_meta
from pose.data.transforms import BBOX_PADDING, bbox_xyxy_to_cs, fix_aspect_ratio, get_affine_matrix, input_to_image, warp
from pose.detection.predict import DetectorInfo, detect
from pose.engine.runtime import resolve_device
from pose.errors import CheckpointError, ConfigError
from pose.modelio.loaders import load_any_pose
from pose.modelio.loaders import load_detector as _load_detector

__all__ = ["FrameResult", "InstanceResult", "PoseModel", "crop_boxes", "detect", "detector_classes", "estimate_frames",
           "inference_topdown", "load_detector", "load_pose_model", "merge"]

#: Side of the pooled SimCC "heatmaps" in input pixels per map pixel (as a stride-4 heatmap head).
SIMCC_MAP_STRIDE = 4


@dataclass
class PoseModel:
    """A loaded pose network plus what inference needs to crop for it and read its output.

    ``net.predict(uint8 RGB (B, 3, H, W))`` returns keypoints (B, K, 2) in input pixels and scores
    (B, K); a ``TopdownPoseEstimator`` or an ``OnnxPoseModel``.
    """

    net: Any
    meta: DatasetMeta
    input_size: tuple[int, int]
    source: str
    kind: str  # "checkpoint" | "published" | "onnx"
    udp: bool = False  # crop geometry; training and ``pose test`` use the plain one
    padding: float = BBOX_PADDING
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_keypoints(self) -> int:
        return self.meta.num_keypoints

    @property
    def has_heatmaps(self) -> bool:
        codec = getattr(self.net, "codec", None)
        return hasattr(self.net, "predict_outputs") and getattr(codec, "name", None) in ("msra", "udp", "simcc")


@dataclass
class InstanceResult:
    """One box's prediction in image pixels; ``heatmap_matrix`` maps image pixels to heatmap pixels."""

    bbox: np.ndarray  # (4,) xyxy
    bbox_score: float
    keypoints: np.ndarray  # (K, 2)
    keypoint_scores: np.ndarray  # (K,)
    heatmaps: np.ndarray | None = None  # (K, h, w)
    heatmap_matrix: np.ndarray | None = None  # (2, 3)


@dataclass
class FrameResult:
    """All instances of one image as arrays (N instances, K keypoints)."""

    image_size: tuple[int, int]  # (w, h)
    boxes: np.ndarray  # (N, 4) float32 xyxy
    box_scores: np.ndarray  # (N,) float32
    keypoints: np.ndarray  # (N, K, 2) float32, image pixels
    keypoint_scores: np.ndarray  # (N, K) float32
    heatmaps: np.ndarray | None = None  # (N, K, h, w) float32
    heatmap_matrices: np.ndarray | None = None  # (N, 2, 3) image pixels -> heatmap pixels
    track_ids: np.ndarray | None = None  # (N,) int64 identities across frames (``pose.inference.tracker``)

    def __len__(self) -> int:
        return len(self.boxes)

    def instances(self) -> list[InstanceResult]:
        hm, mats = self.heatmaps, self.heatmap_matrices
        return [InstanceResult(self.boxes[i], float(self.box_scores[i]), self.keypoints[i], self.keypoint_scores[i],
                               None if hm is None else hm[i], None if mats is None else mats[i]) for i in range(len(self))]

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict[str, Any]]:
        """COCO keypoint results entries, as ``pose test`` writes them (score = mean keypoint score);
        ``track_id`` is added when the frame was tracked."""
        flat = np.concatenate([self.keypoints, self.keypoint_scores[..., None]], axis=2).reshape(len(self), 3 * self.keypoints.shape[1]).round(3)
        xywh = xyxy_to_xywh(self.boxes).round(3)
        means = self.keypoint_scores.mean(axis=1)
        entries = [{"image_id": int(image_id), "category_id": int(category_id), "keypoints": flat[i].tolist(),
                    "score": float(means[i]), "bbox": xywh[i].tolist(), "bbox_score": float(self.box_scores[i])}
                   for i in range(len(self))]
        if self.track_ids is not None:
            for entry, tid in zip(entries, self.track_ids):
                entry["track_id"] = int(tid)
        return entries


def merge(instances: Sequence[InstanceResult], image_size: tuple[int, int], num_keypoints: int | None = None) -> FrameResult:
    """Gather per-instance results of one image into a ``FrameResult`` (``num_keypoints`` for none)."""
    if not instances:
        if num_keypoints is None:
            raise ValueError("merge of no instances needs num_keypoints")
        k = num_keypoints
        return FrameResult(tuple(image_size), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                           np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32))
    with_maps = all(i.heatmaps is not None for i in instances)
    return FrameResult(
        tuple(image_size),
        np.stack([i.bbox for i in instances]).astype(np.float32),
        np.array([i.bbox_score for i in instances], np.float32),
        np.stack([i.keypoints for i in instances]).astype(np.float32),
        np.stack([i.keypoint_scores for i in instances]).astype(np.float32),
        np.stack([i.heatmaps for i in instances]) if with_maps else None,  # type: ignore[misc]
        np.stack([i.heatmap_matrix for i in instances]) if with_maps else None,  # type: ignore[misc]
    )


# ----------------------------------------------------------------------------- loading
def load_pose_model(path: str | Path, *, device: str | torch.device = "cpu", meta: str | Path | DatasetMeta | None = None,
                    input_size: Sequence[int] | None = None) -> PoseModel:
    """A pose model from a training checkpoint, a published ``.pth`` or an ``.onnx`` file
    (``pose.modelio.load_any_pose``).

    ``meta`` (preset name, YAML path or ``DatasetMeta``) and ``input_size`` (w, h), when given, must
    match what the model was built for (``CheckpointError`` / ``ConfigError`` otherwise).
    """
    path = Path(path)
    dev = resolve_device(device) if isinstance(device, str) else device
    if not path.is_file():
        raise CheckpointError("pose model file not found", file=path, hint="a training checkpoint, a published .pth or an .onnx")
    want = None if meta is None else meta if isinstance(meta, DatasetMeta) else load_meta(meta)
    net, own, info = load_any_pose(path, device=dev)
    kind = "onnx" if path.suffix.lower() == ".onnx" else "published" if info.get("format") else "checkpoint"
    if own is None:
        if want is None:
            raise CheckpointError("the model carries no dataset meta", file=path, entry="meta", hint="pass the meta it was trained with")
        own = want
    model = PoseModel(net, own, tuple(int(v) for v in net.input_size), str(path), kind, info=info)
    flips = getattr(net, "flip_indices", None)
    if flips is not None and len(flips) != own.num_keypoints:
        raise CheckpointError(f"the model predicts {len(flips)} keypoints, meta '{own.name}' has {own.num_keypoints}", file=path, entry="meta")
    if want is not None and want.keypoint_names != own.keypoint_names:
        raise CheckpointError(
            f"the model predicts {own.num_keypoints} keypoints of meta '{own.name}', not the {want.num_keypoints} of "
            f"meta '{want.name}'", file=path, entry="meta", hint="use a model trained on that keypoint set")
    if input_size is not None and tuple(int(v) for v in input_size) != model.input_size:
        w, h = model.input_size
        raise ConfigError(f"the model was built for input size {w}x{h} (w x h), not {'x'.join(str(int(v)) for v in input_size)}",
                          file=path, entry="input_size", hint="crops are made at the model's own input size; drop the option")
    return model


def load_detector(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, DetectorInfo]:
    """The detector of a training checkpoint (``pose.modelio.load_detector``)."""
    dev = resolve_device(device) if isinstance(device, str) else device
    if not Path(path).is_file():
        raise CheckpointError("detector checkpoint not found", file=path, hint="train one with `pose train-det`")
    return _load_detector(path, device=dev)


def detector_classes(info: DetectorInfo, meta: DatasetMeta) -> list[int] | None:
    """The detector labels to keep for a pose model: the class named like the meta's category,
    or the only class; ``None`` (all classes) when neither applies."""
    names = [n.lower() for n in info.class_names]
    if meta.category.lower() in names:
        return [names.index(meta.category.lower()) + 1]
    return [1] if len(names) == 1 else None


# ----------------------------------------------------------------------------- crops
def _check_image(image: Any, what: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ConfigError(f"must be a BGR uint8 array (H, W, 3), got {type(image).__name__} {getattr(image, 'shape', '')}", entry=what)
    return image


def _check_boxes(boxes: Any, scores: Any, what: str = "boxes") -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(boxes, np.float32)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ConfigError(f"must be (N, 4) xyxy, got shape {b.shape}", entry=what)
    bad = ~(np.isfinite(b).all(1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"box must be finite with x2 > x1 and y2 > y1, got {b[i].tolist()}", entry=f"{what}[{i}]")
    s = np.ones(len(b), np.float32) if scores is None else np.asarray(scores, np.float32).reshape(-1)
    if len(s) != len(b):
        raise ConfigError(f"{len(s)} scores for {len(b)} boxes", entry=f"{what}.scores")
    return b, s


def full_frame_box(image: np.ndarray) -> np.ndarray:
    """The whole image as one (1, 4) box, as MMPose's top-down demo does without a detector."""
    h, w = image.shape[:2]
    return np.array([[0, 0, w, h]], np.float32)


def crop_boxes(image: np.ndarray, boxes: np.ndarray, input_size: tuple[int, int], *, padding: float = BBOX_PADDING,
               udp: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Evaluation crops of (N, 4) boxes: (crops (N, H, W, 3) BGR uint8, centres (N, 2), scales (N, 2),
    image -> input matrices (N, 2, 3)); one ``warpAffine`` per crop."""
    w, h = input_size
    center, scale = bbox_xyxy_to_cs(boxes, padding)
    scale = fix_aspect_ratio(scale, w / h)
    matrices = get_affine_matrix(center, scale, 0.0, input_size, udp=udp)
    crops = np.empty((len(boxes), h, w, 3), np.uint8)
    for i, m in enumerate(matrices):
        crops[i] = warp(image, m, input_size)
    return crops, center, scale, matrices


def to_inputs(crops: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) BGR crops -> the model's (N, 3, H, W) uint8 RGB tensor."""
    return torch.from_numpy(np.ascontiguousarray(crops[..., ::-1].transpose(0, 3, 1, 2)))


# ----------------------------------------------------------------------------- heatmaps
def _heatmaps(model: PoseModel, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(B, K, h, w) maps for display and the (2, 3) input -> map-pixel affine they live in.

    Heatmap heads give their maps; SimCC heads give the outer product of the x and y softmax
    distributions, pooled to ``SIMCC_MAP_STRIDE`` input pixels per map pixel."""
    codec = model.net.codec
    outputs = torch.as_tensor(outputs) if not isinstance(outputs, tuple) else tuple(torch.as_tensor(o) for o in outputs)
    if codec.name in ("msra", "udp"):
        maps = outputs.float().cpu().numpy()
        sx, sy = (float(v) for v in codec.scale)
        return maps, np.array([[1 / sx, 0, 0], [0, 1 / sy, 0]])
    px, py = (F.softmax(o.float(), dim=-1) for o in outputs)
    group = max(1, int(round(codec.split_ratio * SIMCC_MAP_STRIDE)))
    px = F.avg_pool1d(px.flatten(0, 1)[:, None], group, ceil_mode=True)[:, 0].view(*px.shape[:2], -1)
    py = F.avg_pool1d(py.flatten(0, 1)[:, None], group, ceil_mode=True)[:, 0].view(*py.shape[:2], -1)
    maps = (py[..., :, None] * px[..., None, :]).cpu().numpy()
    step = group / codec.split_ratio
    off = (group - 1) / (2 * codec.split_ratio)
    return maps, np.array([[1 / step, 0, -off / step], [0, 1 / step, -off / step]])


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Affine ``a`` after ``b`` for (2, 3) ``a`` and (..., 2, 3) ``b``."""
    return np.einsum("ij,...jk->...ik", a[:, :2], b) + np.concatenate([np.zeros((2, 2)), a[:, 2:]], axis=1)


# ----------------------------------------------------------------------------- estimation
def _run(model: PoseModel, crops: np.ndarray, batch_size: int, with_heatmaps: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    kpts, scores, maps, hm_matrix = [], [], [], None
    for start in range(0, len(crops), batch_size):
        inputs = to_inputs(crops[start : start + batch_size])
        if model.kind == "onnx":
            inputs = inputs.numpy()
        if with_heatmaps:
            outputs = model.net.predict_outputs(inputs)
            k, s = model.net.codec.decode(outputs)
            m, hm_matrix = _heatmaps(model, outputs)
            maps.append(m)
        else:
            k, s = model.net.predict(inputs)
        kpts.append(np.asarray(k.float().cpu() if isinstance(k, torch.Tensor) else k, np.float32))
        scores.append(np.asarray(s.float().cpu() if isinstance(s, torch.Tensor) else s, np.float32))
    return np.concatenate(kpts), np.concatenate(scores), np.concatenate(maps) if maps else None, hm_matrix


def estimate_frames(model: PoseModel, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None], *,
                    box_scores: Sequence[np.ndarray | None] | None = None, batch_size: int = 64, heatmaps: bool = False,
                    timings: dict[str, float] | None = None) -> list[FrameResult]:
    """Pose of every box of every image; all crops go through the model together in batches of
    ``batch_size``. A ``None`` box list means the whole image. ``timings`` (seconds) gains
    ``crop`` and ``pose``."""
    if batch_size < 1:
        raise ConfigError(f"must be >= 1, got {batch_size}", entry="batch_size")
    if heatmaps and not model.has_heatmaps:
        raise ConfigError(f"{model.source} gives no heatmaps (a regression model)", entry="--draw-heatmap")
    if len(boxes) != len(images) or (box_scores is not None and len(box_scores) != len(images)):
        raise ConfigError(f"{len(boxes)} box lists for {len(images)} images", entry="boxes")
    if not images:
        return []
    t = timings if timings is not None else {}
    t0 = time.perf_counter()
    parts, owners, checked = [], [], []
    for i, image in enumerate(images):
        _check_image(image, f"images[{i}]")
        b, s = _check_boxes(full_frame_box(image) if boxes[i] is None else boxes[i], None if box_scores is None else box_scores[i],
                            f"boxes[{i}]" if len(images) > 1 else "boxes")
        parts.append(crop_boxes(image, b, model.input_size, padding=model.padding, udp=model.udp))
        owners.append(np.full(len(b), i))
        checked.append((b, s))
    crops, centers, scales, mats = (np.concatenate([p[j] for p in parts]) for j in range(4))
    t1 = time.perf_counter()
    t["crop"] = t.get("crop", 0.0) + t1 - t0
    k = model.num_keypoints
    if len(crops):
        kpts, scores, maps, hm_matrix = _run(model, crops, batch_size, heatmaps)
        pts = input_to_image(kpts, centers, scales, np.zeros(len(crops)), model.input_size, udp=model.udp)
    else:
        pts, scores, maps, hm_matrix = np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), None, None
    t["pose"] = t.get("pose", 0.0) + time.perf_counter() - t1
    owner = np.concatenate(owners)
    out = []
    for i, (b, s) in enumerate(checked):
        rows = owner == i
        frame_maps = None if maps is None else maps[rows]
        frame_mats = None if hm_matrix is None else _compose(hm_matrix, mats[rows])
        if heatmaps and frame_maps is None:
            frame_maps, frame_mats = np.zeros((0, k, 1, 1), np.float32), np.zeros((0, 2, 3))
        h, w = images[i].shape[:2]
        out.append(FrameResult((w, h), b, s, pts[rows].astype(np.float32), scores[rows], frame_maps, frame_mats))
    return out


def inference_topdown(model: PoseModel, image: np.ndarray, boxes: np.ndarray | None = None, *, box_scores: np.ndarray | None = None,
                      batch_size: int = 64, heatmaps: bool = False) -> list[InstanceResult]:
    """Per-instance results for (N, 4) xyxy ``boxes`` of one BGR image (``None``: the whole image);
    every box is cropped and the crops run as one batch (chunks of ``batch_size``)."""
    frame = estimate_frames(model, [image], [boxes], box_scores=None if box_scores is None else [box_scores],
                            batch_size=batch_size, heatmaps=heatmaps)[0]
    return frame.instances()
