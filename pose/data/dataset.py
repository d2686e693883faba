"""Top-down torch ``Dataset``: one person/animal crop per item, for training and evaluation.

Per item: read the image (BGR) -> box to centre/scale (padding 1.25, aspect ratio fixed to the
input size) -> [train] random flip, half-body, shift/scale/rotation -> ONE ``cv2.warpAffine`` to
``input_size`` (w, h) -> [train] photometric jitter -> targets from a ``KeypointCodec`` -> tensors.

Contracts:

* ``image`` is a (3, H, W) **uint8 RGB** tensor. Mean/std normalisation is the model
  preprocessor's job on the device; keeping uint8 makes workers cheap and batches 4x smaller.
* ``keypoints`` (K, 2) float32 are in input-image pixels; ``visibility`` (K,) uint8 keeps the
  labels (0 stays 0 and its point stays at (0, 0); a labelled keypoint moved outside the crop
  keeps its 1/2). ``inside`` (K,) marks labelled keypoints with ``0 <= x < W`` and ``0 <= y < H``.
  The codec sees ``visibility * inside``, so keypoints outside the crop get weight 0 whatever
  the codec.
* ``matrix`` (2, 3) float64 maps original image pixels to input pixels (flip included);
  ``invert_affine(matrix)`` maps predictions back exactly. ``center``, ``scale``, ``rotation``
  describe the crop in the (flipped when ``flipped``) image; in evaluation nothing flips and
  ``transforms.input_to_image(points, center, scale, rotation, input_size, udp=)`` is the inverse.
* Randomness: each item draws one 63-bit seed from torch's default generator of the current
  process and builds a ``numpy.random.Generator`` from it. DataLoader workers have that
  generator seeded from the loader's base seed (``torch.initial_seed()`` in a worker is
  ``base_seed + worker_id``, a new base seed per epoch), so ``torch.manual_seed(s)`` makes runs
  reproducible for a fixed ``num_workers``/sampler, with no ``worker_init_fn`` needed.
  ``get(index, rng)`` takes an explicit generator instead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from pose.data.coco import CocoData, read_json, xywh_to_xyxy
from pose.data.image import read_image
from pose.data.meta import DatasetMeta
from pose.data.transforms import (
    BBOX_PADDING,
    AugConfig,
    apply_affine,
    bbox_xyxy_to_cs,
    compose_hflip,
    fix_aspect_ratio,
    flip_keypoints,
    get_affine_matrix,
    half_body_box,
    photometric,
    random_bbox_transform,
    warp,
)
from pose.errors import ConfigError, DataError


class KeypointCodec(Protocol):
    """Turns keypoints into training targets (implemented in ``pose.codecs``).

    ``encode`` gets (N, K, 2) float32 keypoints in input-image pixels and (N, K) visibility
    (0 = do not supervise) and returns arrays whose first axis is N, e.g.
    ``{"heatmaps": (N, K, h, w), "keypoint_weights": (N, K)}``. The dataset calls it with N = 1
    and stores each array without that axis under ``sample["targets"]``.
    """

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]: ...


BoxesSpec = str | Path | list[dict[str, Any]]


def load_boxes(boxes: BoxesSpec, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detection boxes (a COCO results file or its list of ``{image_id, bbox: xywh, score}``) ->
    (image ids (N,), xyxy boxes (N, 4) float32, scores (N,) float32)."""
    source = str(boxes) if isinstance(boxes, (str, Path)) else "<boxes>"
    items = read_json(boxes) if isinstance(boxes, (str, Path)) else boxes
    if not isinstance(items, list):
        raise DataError("expected a COCO results list of {image_id, bbox, score}", file=source, entry="<top>")
    known = set(np.asarray(image_ids).tolist())
    ids, xywh, scores = [], [], []
    for i, b in enumerate(items):
        entry = f"[{i}]"
        if not isinstance(b, dict):
            raise DataError("each detection must be an object", file=source, entry=entry)
        iid, box, score = b.get("image_id"), b.get("bbox"), b.get("score", 1.0)
        if not isinstance(iid, int) or isinstance(iid, bool) or iid not in known:
            raise DataError(f"image_id {iid!r} is not an image of the dataset", file=source, entry=f"{entry}.image_id")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            raise DataError(f"bbox must be [x, y, w, h] numbers, got {box!r}", file=source, entry=f"{entry}.bbox")
        if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise DataError(f"bbox must be finite with positive size, got {box!r}", file=source, entry=f"{entry}.bbox")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not np.isfinite(score):
            raise DataError(f"score must be a number, got {score!r}", file=source, entry=f"{entry}.score")
        ids.append(iid)
        xywh.append(box)
        scores.append(score)
    return (
        np.asarray(ids, np.int64),
        xywh_to_xyxy(np.asarray(xywh, np.float32).reshape(-1, 4)),
        np.asarray(scores, np.float32),
    )


class TopdownDataset(Dataset[dict[str, Any]]):
    """One item per instance crop. See the module docstring for the sample contract.

    Training skips crowd instances and those without labelled keypoints (see ``counts``).
    Evaluation applies no random op, skips crowds and keeps unlabelled instances only with
    ``keep_empty``; with ``boxes`` (detections) it crops those instead of the GT boxes, with
    unlabelled keypoints, ``ann_id`` -1 and the detection score as ``bbox_score``. ``udp`` selects
    the UDP crop geometry (use it with the UDP codec, and pass it to ``input_to_image`` too).
    """

    def __init__(
        self,
        data: CocoData,
        meta: DatasetMeta,
        *,
        input_size: tuple[int, int] = (192, 256),
        train: bool,
        codec: KeypointCodec | None = None,
        aug: AugConfig | None = None,
        boxes: BoxesSpec | None = None,
        keep_empty: bool = False,
        box_score_thr: float = 0.0,
        padding: float = BBOX_PADDING,
        udp: bool = False,
    ) -> None:
        if data.num_keypoints != meta.num_keypoints:
            raise DataError(f"annotations have {data.num_keypoints} keypoints, meta '{meta.name}' has {meta.num_keypoints}", file=data.source)
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ConfigError(f"input_size must be (w, h) > 0, got {input_size}", entry="input_size")
        if not train and aug is not None:
            raise ConfigError("evaluation applies no augmentation; pass aug only with train=True", entry="aug")
        if train and boxes is not None:
            raise ConfigError("detection boxes are for evaluation; training uses the GT boxes", entry="boxes")
        self.data, self.meta, self.codec = data, meta, codec
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.train, self.udp = train, udp
        self.aug = (aug or AugConfig()) if train else None
        self.flip_indices = meta.flip_indices
        self.counts: Counter[str] = Counter()
        k = data.num_keypoints
        if boxes is None:
            keep = ~data.iscrowd
            labelled = data.num_labelled > 0
            self.counts.update(annotations=len(data), crowd=int(data.iscrowd.sum()), no_keypoints=int((keep & ~labelled).sum()))
            if train or not keep_empty:
                keep &= labelled
            rows = np.flatnonzero(keep)
            image_ids, self.bboxes = data.ann_image_ids[rows], data.bboxes[rows]
            self.scores = np.ones(len(rows), np.float32)
            self.ann_ids = data.ann_ids[rows]
            self.keypoints, self.visibility = data.keypoints[rows], data.visibility[rows]
        else:
            image_ids, self.bboxes, self.scores = load_boxes(boxes, data.image_ids)
            keep = self.scores >= box_score_thr
            self.counts.update(boxes=len(keep), below_threshold=int((~keep).sum()))
            image_ids, self.bboxes, self.scores = image_ids[keep], self.bboxes[keep], self.scores[keep]
            n = len(image_ids)
            self.ann_ids = np.full(n, -1, np.int64)
            self.keypoints, self.visibility = np.zeros((n, k, 2), np.float32), np.zeros((n, k), np.uint8)
        self.counts["used"] = len(image_ids)
        order = np.argsort(data.image_ids)
        self.image_rows = order[np.searchsorted(data.image_ids, image_ids, sorter=order)]
        center, scale = bbox_xyxy_to_cs(self.bboxes, padding)
        self.centers, self.scales = center, fix_aspect_ratio(scale, self.aspect_ratio)

    @property
    def aspect_ratio(self) -> float:
        return self.input_size[0] / self.input_size[1]

    def __len__(self) -> int:
        return len(self.image_rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.get(index)

    def get(self, index: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Item ``index``; ``rng`` defaults to one seeded from torch's generator (see module doc)."""
        row = int(self.image_rows[index])
        image = read_image(self.data.image_path(row), entry=f"images[id={self.data.image_ids[row]}]")
        return self.prepare(image, index, rng)

    def prepare(self, image: np.ndarray, index: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Everything after decoding: crop, augment, encode, tensorise (the per-sample pipeline)."""
        if self.aug is not None and rng is None:
            rng = np.random.default_rng(int(torch.randint(0, 2**63 - 1, (1,)).item()))
        width = image.shape[1]
        kp, vis = self.keypoints[index], self.visibility[index]
        center, scale, rotation, flipped = self.centers[index], self.scales[index], 0.0, False
        aug = self.aug
        if aug is not None and rng is not None:
            if rng.random() < aug.flip_prob:
                flipped = True
                kp, vis = flip_keypoints(kp, vis, width, self.flip_indices)
                center = np.array([width - 1 - center[0], center[1]], np.float32)
            half = half_body_box(kp, vis, self.meta.upper_ids, self.meta.lower_ids, aug, self.aspect_ratio, rng)
            if half is not None:
                center, scale = half
            center, scale, rotation = random_bbox_transform(center, scale, aug, rng)
            scale = fix_aspect_ratio(scale, self.aspect_ratio)
        matrix = get_affine_matrix(center, scale, rotation, self.input_size, udp=self.udp)
        points = apply_affine(kp, matrix)
        labelled = vis > 0
        points[~labelled] = 0.0
        w, h = self.input_size
        inside = labelled & (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)
        full = compose_hflip(matrix, width) if flipped else matrix
        crop = warp(image, full, self.input_size)
        if aug is not None and rng is not None:
            crop = photometric(crop, aug, rng)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(crop[:, :, ::-1].transpose(2, 0, 1))),
            "keypoints": torch.from_numpy(points),
            "visibility": torch.from_numpy(np.ascontiguousarray(vis)),
            "inside": torch.from_numpy(inside),
            "matrix": torch.from_numpy(full),
            "center": torch.from_numpy(np.asarray(center, np.float32)),
            "scale": torch.from_numpy(np.asarray(scale, np.float32)),
            "rotation": float(rotation),
            "flipped": flipped,
            "image_id": int(self.data.image_ids[self.image_rows[index]]),
            "ann_id": int(self.ann_ids[index]),
            "bbox": torch.from_numpy(self.bboxes[index].copy()),
            "bbox_score": float(self.scores[index]),
            "image_size": torch.tensor([width, image.shape[0]], dtype=torch.int64),
            "flip_indices": torch.from_numpy(self.flip_indices),
            "index": int(index),
        }
        if self.codec is not None:
            sample["targets"] = self._encode(points, (vis * inside).astype(np.uint8))
        return sample

    def _encode(self, points: np.ndarray, vis: np.ndarray) -> dict[str, torch.Tensor]:
        out = self.codec.encode(points[None], vis[None])  # type: ignore[union-attr]
        targets = {}
        for key, value in out.items():
            value = np.asarray(value)
            if value.ndim == 0 or value.shape[0] != 1:
                raise ValueError(f"codec output '{key}' must have a leading instance axis of 1, got shape {value.shape}")
            targets[key] = torch.from_numpy(np.ascontiguousarray(value[0]))
        return targets
