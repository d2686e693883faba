from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pose.data.coco import CocoData, build_coco, load_coco
from pose.data.meta import DatasetMeta, load_meta
from pose.data.preview import PAIRS_PER_ROW, GridOptions, show_grid
from pose.errors import DataError


@pytest.fixture(scope="module")
def meta() -> DatasetMeta:
    return load_meta("coco")


def tiny_data(root: Path, meta: DatasetMeta, *, labelled: bool = True) -> CocoData:
    images = root / "images"
    images.mkdir(exist_ok=True)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(images / name), np.full((120, 100, 3), 100, np.uint8))
    kp = np.random.default_rng(0).uniform(20, 80, (3, 17, 2)).astype(np.float32)
    vis = np.full((3, 17), 2 if labelled else 0, np.uint8)
    return build_coco(
        file_names=["a.png", "b.png"],
        widths=[100, 100],
        heights=[120, 120],
        ann_image_rows=[0, 1, 1],
        keypoints=kp,
        visibility=vis,
        bboxes=np.tile(np.array([[15, 15, 85, 85]], np.float32), (3, 1)),
        categories=[{"id": 1, "name": "person", "keypoints": meta.keypoint_names}],
        image_root=images,
    )


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path))
    assert img is not None
    return img


def test_grid_pairs_plain_and_flipped_tiles(tmp_path: Path, meta: DatasetMeta) -> None:
    data = tiny_data(tmp_path, meta)
    out = show_grid(data, meta, tmp_path / "grid.png", GridOptions(num=16, seed=0))
    img = read(out)
    assert img.shape == (256, 6 * 192, 3)
    plain = show_grid(data, meta, tmp_path / "plain.png", GridOptions(num=2, seed=0, augment=False))
    assert read(plain).shape == (256, 2 * 192, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "images", "plain.png"]


def test_same_seed_same_picture_other_seed_other_augmentation(tmp_path: Path, meta: DatasetMeta) -> None:
    data = tiny_data(tmp_path, meta)
    a = read(show_grid(data, meta, tmp_path / "a.png", GridOptions(seed=3)))
    b = read(show_grid(data, meta, tmp_path / "b.png", GridOptions(seed=3)))
    c = read(show_grid(data, meta, tmp_path / "c.png", GridOptions(seed=4)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_real_grid_draws_skeletons_in_meta_colours(shared_data: Path, meta: DatasetMeta, tmp_path: Path) -> None:
    root = shared_data / "coco_person_minicoco"
    data = load_coco(root / "annotations/person_keypoints_train2017.json", image_root=root / "images/train2017", num_keypoints=17)
    img = read(show_grid(data, meta, tmp_path / "grid.jpg", GridOptions(num=8, seed=0)))
    assert img.shape == (2 * 256, 2 * PAIRS_PER_ROW * 192, 3)
    green = np.all(np.abs(img.astype(int) - (0, 255, 0)) < 40, axis=2)
    orange = np.all(np.abs(img.astype(int) - (0, 128, 255)) < 40, axis=2)
    assert green.sum() > 100 and orange.sum() > 100


def test_errors_name_the_file(tmp_path: Path, meta: DatasetMeta) -> None:
    data = tiny_data(tmp_path, meta)
    with pytest.raises(DataError, match="grid.xyz"):
        show_grid(data, meta, tmp_path / "grid.xyz")
    assert not list(tmp_path.glob("*grid*"))
    with pytest.raises(DataError, match="no instance with labelled keypoints"):
        show_grid(tiny_data(tmp_path, meta, labelled=False), meta, tmp_path / "g.png")
