"""Detection dataset: crowd boxes excluded, boxes follow resize/zoom/flip, reproducible, float images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose.data.coco import CocoData, build_coco
from pose.detection.dataset import DetAug, DetectionDataset, category_labels, collate, jitter, resize_long_side

CATS = [{"id": 1, "name": "person", "keypoints": ["a", "b"], "skeleton": []},
        {"id": 4, "name": "dog", "keypoints": ["a", "b"], "skeleton": []}]


def make_data(tmp_path: Path) -> CocoData:
    """Two images: white rectangles on black exactly where the boxes are."""
    img = np.zeros((100, 200, 3), np.uint8)
    boxes = np.array([[20, 10, 60, 90], [120, 30, 180, 70], [0, 0, 10, 10]], np.float32)
    for b in boxes[:2].astype(int):
        img[b[1] : b[3], b[0] : b[2]] = 255
    cv2.imwrite(str(tmp_path / "a.png"), img)
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((50, 40, 3), np.uint8))
    # image b has one box without keypoints -> derived from keypoints at load; here all-zero keypoints give a 0 box
    return build_coco(file_names=["a.png", "b.png"], widths=[200, 40], heights=[100, 50], ann_image_rows=[0, 0, 0, 1],
                      keypoints=np.zeros((4, 2, 2)), visibility=np.zeros((4, 2)), categories=CATS,
                      bboxes=np.vstack([boxes, np.zeros((1, 4), np.float32)]), category_ids=[1, 4, 1, 1],
                      iscrowd=[False, False, True, False], image_root=tmp_path)


def test_eval_item_scales_boxes_and_excludes_crowd(tmp_path: Path) -> None:
    ds = DetectionDataset(make_data(tmp_path), input_size=100)
    item = ds[0]
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 50, 100)
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["scale"] == pytest.approx(0.5)
    np.testing.assert_allclose(item["target"]["boxes"].numpy(), [[10, 5, 30, 45], [60, 15, 90, 35]])
    assert item["target"]["labels"].tolist() == [1, 2]
    empty = ds[1]  # a degenerate (0-size) box is dropped, the image stays as a negative
    assert empty["target"]["boxes"].shape == (0, 4) and empty["target"]["labels"].dtype == torch.int64


def test_category_labels_sorted_by_id(tmp_path: Path) -> None:
    assert category_labels(make_data(tmp_path)) == ([1, 4], ["person", "dog"])


@pytest.mark.parametrize("zoom", [0.6, 1.0, 1.5])
@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_jitter_boxes_follow_the_pixels(zoom: float, flip: float) -> None:
    img = np.zeros((100, 160, 3), np.uint8)
    img[30:70, 50:90] = 255
    box = np.array([[50, 30, 90, 70]], np.float32)
    out, b = jitter(img, box, np.random.default_rng(3), DetAug(flip=flip, scale=(zoom, zoom)))
    assert out.shape == img.shape
    ys, xs = np.nonzero(out[..., 0] > 127)
    x0, y0, x1, y1 = b[0]
    assert xs.min() == pytest.approx(x0, abs=1.5) and xs.max() + 1 == pytest.approx(x1, abs=1.5)
    assert ys.min() == pytest.approx(y0, abs=1.5) and ys.max() + 1 == pytest.approx(y1, abs=1.5)


def test_train_items_are_reproducible_and_collate_keeps_lists(tmp_path: Path) -> None:
    ds = DetectionDataset(make_data(tmp_path), input_size=96, train=True, aug=DetAug(scale=(0.5, 1.5)))
    torch.manual_seed(5)
    a = ds[0]
    torch.manual_seed(5)
    b = ds[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["target"]["boxes"], b["target"]["boxes"])
    batch = collate([ds[0], ds[1]])
    assert isinstance(batch["images"], list) and len(batch["images"]) == 2
    assert batch["image_ids"] == [1, 2] and isinstance(batch["targets"][0], dict)


def test_resize_long_side() -> None:
    out, s = resize_long_side(np.zeros((30, 60, 3), np.uint8), 120)
    assert out.shape == (60, 120, 3) and s == 2.0
