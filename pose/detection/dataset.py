"""Detection ``Dataset``: one whole image with all its boxes per item, as torchvision detectors take it.

Per item: read the image (BGR) -> scale so the long side is ``input_size`` -> [train] scale
jitter (resize by a random factor, then crop or pad back to the same canvas at a random offset)
and horizontal flip -> float RGB tensor in [0, 1].

Targets hold the non-crowd boxes (xyxy, canvas pixels) and labels ``1..C`` (``label_of`` maps
COCO category ids to them); boxes narrower or shorter than ``min_box`` pixels after cropping are
dropped. Boxes that instances lacked were derived from keypoints when the file was loaded.
Scaling to the input size here (``cv2.INTER_AREA``) rather than in the model keeps workers doing
the resize and makes training and ``predict.detect`` see identically resampled pixels.

Randomness: like ``pose.data.dataset``, each training item draws one seed from torch's default
generator (seeded per worker by the loader), so a loader with a seeded generator is reproducible.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from pose.data.coco import CocoData
from pose.data.image import read_image
from pose.params import DetAug

#: Padding colour (BGR) where scale jitter zooms out.
PAD_VALUE = (114, 114, 114)


def category_labels(data: CocoData) -> tuple[list[int], list[str]]:
    """Category ids (sorted) and their names; the detector's label ``i + 1`` is ``ids[i]``."""
    cats = sorted(data.categories, key=lambda c: int(c["id"]))
    return [int(c["id"]) for c in cats], [str(c.get("name", c["id"])) for c in cats]


def resize_long_side(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """``image`` scaled so its long side is ``size`` px; returns it and the scale factor."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale == 1.0:
        return image, scale
    out_w, out_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (out_w, out_h), interpolation=interp), scale


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """BGR uint8 (H, W, 3) -> RGB float (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1))).float().div_(255.0)


def jitter(image: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, aug: DetAug) -> tuple[np.ndarray, np.ndarray]:
    """Zoom by a random factor in ``aug.scale`` keeping the canvas size, then maybe flip; boxes follow."""
    h, w = image.shape[:2]
    s = float(rng.uniform(*aug.scale))
    if s != 1.0:
        zw, zh = max(1, round(w * s)), max(1, round(h * s))
        zoomed = cv2.resize(image, (zw, zh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        # offset of the zoomed image on the canvas: negative = crop, positive = pad
        ox = int(rng.integers(min(0, w - zw), max(0, w - zw) + 1))
        oy = int(rng.integers(min(0, h - zh), max(0, h - zh) + 1))
        canvas = np.empty_like(image)
        canvas[:] = PAD_VALUE
        sx, sy = max(0, -ox), max(0, -oy)
        dx, dy = max(0, ox), max(0, oy)
        cw, ch = min(w - dx, zw - sx), min(h - dy, zh - sy)
        canvas[dy : dy + ch, dx : dx + cw] = zoomed[sy : sy + ch, sx : sx + cw]
        image = canvas
        boxes = boxes * np.array([zw / w, zh / h, zw / w, zh / h], np.float32) + np.array([ox, oy, ox, oy], np.float32)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
    if rng.random() < aug.flip:
        image = image[:, ::-1]
        boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1)
    return image, boxes


class DetectionDataset(Dataset[dict[str, Any]]):
    """Images of ``data`` with their boxes; ``train`` turns augmentation on.

    Item: ``image`` (3, H, W) float32 RGB in [0, 1] (long side ``input_size``), ``target``
    {``boxes`` (n, 4) float32 xyxy, ``labels`` (n,) int64}, ``image_id`` and ``scale`` (input
    px per original px; boxes / scale are in original image pixels).
    """

    def __init__(self, data: CocoData, input_size: int, *, train: bool = False, aug: DetAug = DetAug(),
                 label_of: dict[int, int] | None = None) -> None:
        self.data = data
        self.input_size = input_size
        self.train = train
        self.aug = aug
        if label_of is None:
            ids, _ = category_labels(data)
            label_of = {c: i + 1 for i, c in enumerate(ids)}
        self.label_of = label_of
        rows = data.ann_rows_by_image()
        keep = ~data.iscrowd & np.isin(data.category_ids, list(label_of))
        self.rows = [r[keep[r]] for r in (rows[int(i)] for i in data.image_ids)]
        self.labels = np.zeros(len(data), np.int64)
        self.labels[keep] = [label_of[int(c)] for c in data.category_ids[keep]]

    def __len__(self) -> int:
        return len(self.data.image_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = None
        if self.train:
            rng = np.random.default_rng(int(torch.randint(0, 2**63 - 1, (1,)).item()))
        return self.get(index, rng)

    def get(self, index: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Item ``index``; augmented with ``rng`` when given and ``train`` is on."""
        image = read_image(self.data.image_path(index), entry=f"images[id={self.data.image_ids[index]}]")
        image, scale = resize_long_side(image, self.input_size)
        rows = self.rows[index]
        boxes = self.data.bboxes[rows].astype(np.float32) * np.float32(scale)
        if self.train and rng is not None:
            image, boxes = jitter(image, boxes, rng, self.aug)
        size = boxes[:, 2:] - boxes[:, :2]
        ok = (size >= self.aug.min_box).all(axis=1)
        target = {"boxes": torch.from_numpy(np.ascontiguousarray(boxes[ok], np.float32)).reshape(-1, 4),
                  "labels": torch.from_numpy(self.labels[rows][ok])}
        return {"image": to_tensor(image), "target": target, "image_id": int(self.data.image_ids[index]), "scale": scale}


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Lists, not stacked tensors: images differ in size and torchvision detectors take lists."""
    return {"images": [b["image"] for b in batch], "targets": [b["target"] for b in batch],
            "image_ids": [b["image_id"] for b in batch], "scales": [b["scale"] for b in batch]}
