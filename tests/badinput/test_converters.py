"""Inputs of the wrong layout for each converter: exit 2, one line naming the source file, and no
output folder (nor a temp folder beside it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from badinput.support import assert_nothing_written, assert_user_error, run_cli, write_png

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _dlc_csv_flat(root: Path) -> Path:
    """One header row (a plain table), not DeepLabCut's scorer / bodyparts / coords."""
    p = root / "CollectedData_me.csv"
    p.write_text("image,snout_x,snout_y\nlabeled-data/v/img0.png,1,2\n")
    return p


def _dlc_h5_wrong(root: Path) -> Path:
    p = root / "CollectedData_me.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("points", data=np.zeros((3, 2)))
    return p


def _dlc_csv_odd_coords(root: Path) -> Path:
    p = root / "CollectedData_me.csv"
    p.write_text("scorer,me,me,me\nbodyparts,snout,snout,tail\ncoords,x,y,x\nlabeled-data/v/img0.png,1,2,3\n")
    return p


def _lp_csv_flat(root: Path) -> Path:
    (root / "CollectedData.csv").write_text("frame,nose_x,nose_y\nimg0.png,1,2\n")
    return root


def _sleap_text(root: Path) -> Path:
    p = root / "labels.slp"
    p.write_text("not hdf5")
    return p


def _sleap_h5_wrong(root: Path) -> Path:
    p = root / "labels.slp"
    with h5py.File(p, "w") as f:
        f.create_dataset("tracks", data=np.zeros(3))
    return p


def _yolo_no_kpt_shape(root: Path) -> Path:
    write_png(root / "images" / "train" / "a.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.5 0.5 2\n")
    p = root / "data.yaml"
    p.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "names": {0: "dot"}}))
    return p


def _yolo_short_label(root: Path) -> Path:
    p = _yolo_no_kpt_shape(root)
    p.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "names": {0: "dot"}, "kpt_shape": [2, 3]}))
    return p


def _yolo_yaml_list(root: Path) -> Path:
    p = root / "data.yaml"
    p.write_text("- images/train\n")
    return p


def _labelme_no_shapes(root: Path) -> Path:
    write_png(root / "a.png")
    (root / "a.json").write_text(json.dumps({"imagePath": "a.png", "imageHeight": 40, "imageWidth": 48}))
    return root


def _labelme_point_not_a_point(root: Path) -> Path:
    write_png(root / "a.png")
    shape = {"label": "nose", "shape_type": "point", "points": [[1, 2], [3, 4]], "group_id": None}
    (root / "a.json").write_text(json.dumps({"imagePath": "a.png", "imageHeight": 40, "imageWidth": 48, "shapes": [shape]}))
    return root


def _labelme_escaping_image(root: Path) -> Path:
    shape = {"label": "nose", "shape_type": "point", "points": [[1, 2]], "group_id": None}
    (root / "a.json").write_text(json.dumps({"imagePath": "../../etc/passwd", "imageHeight": 40, "imageWidth": 48, "shapes": [shape]}))
    return root


CASES: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "dlc-csv-flat-header": ("dlc", _dlc_csv_flat, "no 'scorer' header row"),
    "dlc-csv-x-without-y": ("dlc", _dlc_csv_odd_coords, "only one of its x/y columns"),
    "dlc-h5-wrong-layout": ("dlc", _dlc_h5_wrong, "expected one pandas DataFrame"),
    "lightning-pose-csv-flat-header": ("lightning-pose", _lp_csv_flat, "no 'scorer' header row"),
    "sleap-not-hdf5": ("sleap", _sleap_text, "not a SLEAP .slp file"),
    "sleap-hdf5-wrong-layout": ("sleap", _sleap_h5_wrong, "not a SLEAP labels file"),
    "yolo-no-kpt-shape": ("yolo", _yolo_no_kpt_shape, "kpt_shape"),
    "yolo-label-wrong-length": ("yolo", _yolo_short_label, "expected 11"),
    "yolo-yaml-not-mapping": ("yolo", _yolo_yaml_list, "is a mapping"),
    "labelme-no-shapes": ("labelme", _labelme_no_shapes, "no 'shapes' list"),
    "labelme-point-with-two-points": ("labelme", _labelme_point_not_a_point, "expected 1 point"),
    "labelme-image-escapes": ("labelme", _labelme_escaping_image, "lies outside"),
}


@pytest.mark.parametrize("fmt,make,says", list(CASES.values()), ids=list(CASES))
def test_wrong_layout_refused(fmt: str, make: Callable[[Path], Path], says: str, tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    src = make(root)
    out = tmp_path / "converted"
    r = run_cli("data", "convert", "--from", fmt, "--to", "coco", src, out)
    first = assert_user_error(r, file=None, says=says)
    assert first.startswith(f"error: {root}"), f"{first!r} does not name a file under {root}"
    assert_nothing_written(out)
