"""YOLO-pose <-> canonical dataset: round trips (real COCO people, synthetic), fixtures, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from pose.data.coco import load_coco
from pose.data.convert import run_convert
from pose.data.convert.yolo import label_path, read_data_yaml
from pose.data.layout import load_dataset, splits
from pose.data.meta import DatasetMeta, load_meta
from pose.errors import DataError


def _image(path: Path, w: int = 64, h: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 127, np.uint8))


def _yolo(
    root: Path,
    labels: dict[str, str],
    *,
    kpt_shape: tuple[int, int] = (3, 3),
    extra: dict | None = None,
    sizes: dict[str, tuple[int, int]] | None = None,
) -> Path:
    """A YOLO-pose dataset: images/train/<name>.png (64x48 unless sized) and labels/train/<name>.txt."""
    for name in labels.keys() | (sizes or {}).keys():
        _image(root / "images" / "train" / f"{name}.png", *(sizes or {}).get(name, (64, 48)))
    for name, text in labels.items():
        (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "train" / f"{name}.txt").write_text(text)
    doc = {"path": ".", "train": "images/train", "kpt_shape": list(kpt_shape), "flip_idx": [0, 2, 1][: kpt_shape[0]], "names": {0: "mouse"}}
    doc.update(extra or {})
    (root / "data.yaml").write_text(yaml.safe_dump({k: v for k, v in doc.items() if v is not None}))
    return root


def test_label_path_follows_ultralytics_rule() -> None:
    assert label_path(Path("/d/images/train/a/b.jpg")) == Path("/d/labels/train/a/b.txt")
    assert label_path(Path("/images/x/images/train/b.png")) == Path("/images/x/labels/train/b.txt")
    assert label_path(Path("/d/train/b.png")) == Path("/d/train/b.txt")


def test_import_fixture_ndim3_pixels_boxes_meta(tmp_path: Path) -> None:
    line = "0 0.5 0.5 0.5 0.25 0.25 0.5 2 0.75 0.25 1 0 0 0\n"
    names = {"kpt_names": {0: ["nose", "left_ear", "right_ear"]}}
    src = _yolo(tmp_path / "y", {"a": line + line.replace("0.25 0.5 2", "0.5 0.5 2")}, sizes={"bg": (32, 32)}, extra=names)
    report = run_convert("yolo", src, tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert meta.keypoint_names == ["nose", "left_ear", "right_ear"]
    assert meta.swap == ["", "right_ear", "left_ear"]
    assert data.file_names == ["train/a.png", "train/bg.png"]
    assert data.visibility.tolist() == [[2, 1, 0], [2, 1, 0]]
    np.testing.assert_allclose(data.keypoints[0], [[16, 24], [48, 12], [0, 0]])
    np.testing.assert_allclose(data.bboxes[0], [16, 18, 48, 30])
    assert data.categories[0]["name"] == "mouse"
    assert report.derived["images without a label file (background)"] == 1
    assert (report.images, report.instances) == (2, 2)


def test_import_ndim2_list_file_default_names_and_classes(tmp_path: Path) -> None:
    src = _yolo(tmp_path / "y", {"a": "1 0.5 0.5 0.5 0.5 0.25 0.5 0 0\n"}, kpt_shape=(2, 2), extra={"flip_idx": [1, 0], "names": ["cat", "dog"]})
    (src / "train.txt").write_text("./images/train/a.png\n")
    (src / "data.yaml").write_text((src / "data.yaml").read_text().replace("train: images/train", "train: train.txt"))
    report = run_convert("yolo", src / "data.yaml", tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert meta.keypoint_names == ["kp0", "kp1"] and meta.swap == ["kp1", "kp0"]
    assert data.visibility.tolist() == [[2, 0]]
    assert data.category_ids.tolist() == [2]
    assert [c["name"] for c in data.categories] == ["cat", "dog"]
    assert report.defaulted["keypoint names (kp0..)"] == 2


@pytest.mark.parametrize(
    ("label", "match"),
    [
        ("0 0.5 0.5 0.5 0.5 0.1 0.1 2 0 0 0 0 0 0\n\n0 0.5 0.5 0.5\n", r"labels/train/a.txt: line 3: 4 values, expected 14"),
        ("0 0.5 0.5 0.5 0.5 0.1 1.2 2 0 0 0 0 0 0\n", r"labels/train/a.txt: line 1: coordinates must be normalised"),
        ("3 0.5 0.5 0.5 0.5 0 0 0 0 0 0 0 0 0\n", r"a.txt: line 1: class must be an integer"),
        ("0 0.5 0.5 0.5 0.5 0.1 0.1 5 0 0 0 0 0 0\n", r"a.txt: line 1: keypoint visibility"),
    ],
)
def test_bad_label_lines_name_file_and_line(tmp_path: Path, label: str, match: str) -> None:
    src = _yolo(tmp_path / "y", {"a": label})
    with pytest.raises(DataError, match=match):
        run_convert("yolo", src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_yaml_and_orphan_label(tmp_path: Path) -> None:
    src = _yolo(tmp_path / "a", {"a": ""}, extra={"kpt_shape": None})
    with pytest.raises(DataError, match=r"data.yaml: kpt_shape: missing"):
        read_data_yaml(src)
    src = _yolo(tmp_path / "b", {"a": ""}, extra={"flip_idx": [1, 2, 0]})
    with pytest.raises(DataError, match=r"data.yaml: flip_idx: not a pairing"):
        read_data_yaml(src)
    src = _yolo(tmp_path / "c", {"a": ""})
    (src / "labels" / "train" / "ghost.txt").write_text("")
    with pytest.raises(DataError, match=r"ghost.txt: image: label file without its image"):
        run_convert("yolo", src, tmp_path / "out")


def _canonical(root: Path, coco: dict, meta: DatasetMeta, images: Path, split: str = "train") -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    if not (root / "images").exists():
        os.symlink(images, root / "images")
    (root / "annotations" / f"{split}.json").write_text(json.dumps(coco))
    meta.save(root / "meta.yaml")
    return root


def _match(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Annotation rows of ``a`` and ``b`` paired by image basename, in file order."""
    name_a = {int(i): Path(f).name for i, f in zip(a.image_ids, a.file_names)}
    name_b = {int(i): Path(f).name for i, f in zip(b.image_ids, b.file_names)}
    ka = [(name_a[int(i)], r) for r, i in enumerate(a.ann_image_ids)]
    kb = [(name_b[int(i)], r) for r, i in enumerate(b.ann_image_ids)]
    return np.array([r for _, r in sorted(ka)]), np.array([r for _, r in sorted(kb)])


def test_minicoco_round_trip_keeps_coordinates(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "coco_person_minicoco"
    coco = json.loads((src / "annotations" / "person_keypoints_train2017.json").read_text())
    for im in coco["images"]:
        im["file_name"] = f"train2017/{im['file_name']}"
    ds = _canonical(tmp_path / "ds", coco, load_meta("coco"), src / "images")
    report = run_convert("coco", ds, tmp_path / "yolo", to="yolo")
    anns = coco["annotations"]
    expected_drops = sum(a["iscrowd"] == 1 or a["num_keypoints"] == 0 for a in anns)
    assert len(report.dropped) == expected_drops and expected_drops > 0
    cfg = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert cfg["kpt_shape"] == [17, 3] and cfg["flip_idx"] == load_meta("coco").flip_indices.tolist()
    assert cfg["kpt_names"][0][5] == "left_shoulder" and cfg["names"] == {0: "person"}

    run_convert("yolo", tmp_path / "yolo", tmp_path / "back")
    back, meta = load_dataset(tmp_path / "back", split="train")
    orig = load_coco(ds / "annotations" / "train.json", image_root=ds / "images")
    kept = orig.subset(np.flatnonzero(~orig.iscrowd & (orig.num_labelled > 0)))
    assert len(back) == len(kept) == len(anns) - expected_drops
    assert meta.swap == load_meta("coco").swap
    ra, rb = _match(kept, back)
    np.testing.assert_array_equal(kept.visibility[ra], back.visibility[rb])
    wh = np.stack([kept.widths, kept.heights], 1)[[kept.image_index()[int(i)] for i in kept.ann_image_ids[ra]]]
    want = np.clip(kept.keypoints[ra], 0, wh[:, None, :].astype(np.float32))
    lab = kept.visibility[ra] > 0
    assert np.abs(want - back.keypoints[rb])[lab].max() < 1e-3
    assert np.abs(np.clip(kept.bboxes[ra], 0, np.tile(wh, 2)) - back.bboxes[rb]).max() < 1e-3
    assert (tmp_path / "back" / "images" / "train" / "train2017" / "000000303308.jpg").is_file()


def test_synthetic_round_trip_two_splits_two_classes(tmp_path: Path) -> None:
    for name, size in (("a/one.png", (100, 80)), ("b/two.jpg", (50, 60))):
        _image(tmp_path / "img" / name, *size)
    cats = [
        {"id": 7, "name": "cat", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2]]},
        {"id": 9, "name": "dog", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2]]},
    ]
    images = [{"id": 1, "file_name": "a/one.png", "width": 100, "height": 80}, {"id": 2, "file_name": "b/two.jpg", "width": 50, "height": 60}]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 9, "bbox": [10, 10, 50, 40], "keypoints": [12.123456, 20.5, 2, 33.3, 44.4, 1, 0, 0, 0], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [0, 0, 20, 20], "keypoints": [0] * 9, "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 7, "bbox": [1, 2, 30, 40], "keypoints": [49.999, 59.5, 2, 55.0, 10.0, 2, 1, 1, 2], "iscrowd": 0},
    ]
    meta = DatasetMeta.from_dict({"name": "pets", "keypoints": cats[0]["keypoints"], "skeleton": [[0, 1]]})
    coco = {"images": images, "annotations": anns, "categories": cats}
    ds = _canonical(tmp_path / "ds", coco, meta, tmp_path / "img")
    _canonical(ds, {**coco, "annotations": anns[2:], "images": images[1:]}, meta, tmp_path / "img", split="val")
    report = run_convert("coco", ds, tmp_path / "yolo", to="yolo")
    assert report.derived["keypoints clipped to the image"] == 2
    assert [d["reason"] for d in report.dropped] == ["no labelled keypoints"]
    line = (tmp_path / "yolo" / "labels" / "train" / "a" / "one.txt").read_text().split()
    assert line[0] == "1" and line[5:8] == ["0.12123456", "0.25625", "2"]
    run_convert("yolo", tmp_path / "yolo", tmp_path / "back")
    assert splits(tmp_path / "back") == ["train", "val"]
    back, m = load_dataset(tmp_path / "back", split="train")
    assert [c["name"] for c in back.categories] == ["cat", "dog"]
    assert back.category_ids.tolist() == [2, 1]
    assert m.swap == ["", "right_eye", "left_eye"]
    np.testing.assert_allclose(back.keypoints[0, :2], [[12.123456, 20.5], [33.3, 44.4]], atol=1e-3)
    np.testing.assert_allclose(back.keypoints[1], [[49.999, 59.5], [50, 10], [1, 1]], atol=1e-3)
    assert back.visibility.tolist() == [[2, 1, 0], [2, 2, 2]]
