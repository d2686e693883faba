import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pose.data.coco import boxes_from_keypoints
from pose.data.convert import run_convert
from pose.data.layout import load_dataset
from pose.errors import DataError


def _point(label: str, x: Any, y: Any, group: int | None = None) -> dict:
    return {"label": label, "points": [[x, y]], "group_id": group, "shape_type": "point", "flags": {}}


def _file(image: str, shapes: list[dict], w: int, h: int) -> dict:
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image, "imageData": None, "imageHeight": h, "imageWidth": w}


def _write(tmp_path: Path, files: dict[str, dict]) -> Path:
    """``src/images/{a.png 60x40, b.jpg 80x50}`` plus the given JSON files under ``src``."""
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    cv2.imwrite(str(src / "images/a.png"), np.zeros((40, 60, 3), np.uint8))
    cv2.imwrite(str(src / "images/b.jpg"), np.zeros((50, 80, 3), np.uint8))
    for name, d in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(json.dumps(d))
    return src


A_SHAPES = [
    _point("left_eye", 10, 12, 1),
    _point("right_eye", 20, 12.5, 1),
    _point("nose", 15, 20, 1),
    {"label": "cat", "points": [[30, 35], [2, 3]], "group_id": 1, "shape_type": "rectangle"},
    _point("left_eye", 40, 10, 2),
    _point("nose", 45, 18, 2),
    {"label": "tail", "points": [[1, 1], [2, 2], [3, 1]], "group_id": None, "shape_type": "polygon"},
]
B_SHAPES = [_point("nose", 50, 30), _point("tail", 70, 45), _point("right_eye", 55, 20)]


def test_two_files_groups_and_rectangles(tmp_path: Path) -> None:
    src = _write(tmp_path, {"json/a.json": _file("../images/a.png", A_SHAPES, 60, 40), "json/b.json": _file("..\\images\\b.jpg", B_SHAPES, 80, 50)})
    report = run_convert("labelme", src, tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert meta.keypoint_names == ["left_eye", "right_eye", "nose", "tail"]
    assert meta.swap == ["right_eye", "left_eye", "", ""] and meta.sigmas is None
    assert data.file_names == ["images/a.png", "images/b.jpg"] and data.ann_image_ids.tolist() == [1, 1, 2]
    assert data.visibility.tolist() == [[2, 2, 2, 0], [2, 0, 2, 0], [0, 2, 2, 2]]
    np.testing.assert_allclose(data.keypoints[0, :3], [[10, 12], [20, 12.5], [15, 20]])
    np.testing.assert_allclose(data.keypoints[2, 1:], [[55, 20], [50, 30], [70, 45]])
    np.testing.assert_allclose(data.bboxes[0], [2, 3, 30, 35])
    derived, _ = boxes_from_keypoints(data.keypoints[1:], data.visibility[1:], widths=np.array([60, 80]), heights=np.array([40, 50]))
    np.testing.assert_allclose(data.bboxes[1:], derived, atol=1e-3)
    assert (report.images, report.instances, report.keypoints) == (2, 3, 4)
    assert report.derived["bbox (from keypoints)"] == 2 and report.derived["visibility (labelled -> 2)"] == 8
    assert [d["reason"] for d in report.dropped] == ["shape_type 'polygon' is not converted"]
    assert "a.json" in report.dropped[0]["entry"] and "shapes[6]" in report.dropped[0]["entry"]
    assert (tmp_path / "out/images/images/b.jpg").is_file()


def test_single_file_with_image_beside_it(tmp_path: Path) -> None:
    src = _write(tmp_path, {"images/b.json": _file("b.jpg", B_SHAPES, 80, 50)})
    run_convert("labelme", src / "images/b.json", tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert data.file_names == ["b.jpg"] and meta.keypoint_names == ["nose", "tail", "right_eye"] and len(data) == 1


@pytest.mark.parametrize(
    "d,message,entry",
    [
        (_file("../images/a.png", A_SHAPES, 61, 40), r"61x40 differs from the image's 60x40", "imageWidth/imageHeight"),
        (_file("../images/zz.png", A_SHAPES, 60, 40), "image '../images/zz.png' not found", "imagePath"),
        (_file("../images/a.png", [_point("nose", "12a", 3)], 60, 40), "not a pair of finite numbers", "shapes[0] (nose).points"),
        (_file("../images/a.png", [_point("nose", 1, 2, 3), _point("nose", 4, 5, 3)], 60, 40), "second 'nose' point in group 3", "shapes[1] (nose)"),
        (_file("../images/a.png", [A_SHAPES[6]], 60, 40), "no point shapes", None),
        (_file("../../a.png", A_SHAPES, 60, 40), "lies outside", "imagePath"),
        ({"images": [], "annotations": []}, "not a labelme file", "shapes"),
    ],
)
def test_bad_input(tmp_path: Path, d: dict, message: str, entry: str | None) -> None:
    src = _write(tmp_path, {"json/a.json": d})
    with pytest.raises(DataError, match=message) as err:
        run_convert("labelme", src, tmp_path / "out")
    assert err.value.entry == entry
    assert (err.value.file or "").endswith("a.json" if entry else "src")
    assert not (tmp_path / "out").exists()


def test_same_image_twice_is_an_error(tmp_path: Path) -> None:
    src = _write(tmp_path, {"a.json": _file("images/b.jpg", B_SHAPES, 80, 50), "b.json": _file("images/b.jpg", B_SHAPES, 80, 50)})
    with pytest.raises(DataError, match="image listed twice"):
        run_convert("labelme", src, tmp_path / "out")


def test_missing_size_is_read_from_the_image(tmp_path: Path) -> None:
    d = _file("images/b.jpg", B_SHAPES, 80, 50)
    del d["imageWidth"], d["imageHeight"]
    report = run_convert("labelme", _write(tmp_path, {"b.json": d}), tmp_path / "out")
    data, _ = load_dataset(tmp_path / "out")
    assert (int(data.widths[0]), int(data.heights[0])) == (80, 50)
    assert report.defaulted["image size (from the image header)"] == 1
