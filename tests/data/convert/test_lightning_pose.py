from pathlib import Path

import cv2
import numpy as np
import pytest

from pose.data.coco import load_coco
from pose.data.convert import run_convert
from pose.data.convert.tabular import read_table
from pose.data.layout import load_dataset
from pose.errors import DataError

HEADER = "scorer,lp,lp,lp,lp\nbodyparts,nose_top,nose_top,tail_top,tail_top\ncoords,x,y,x,y\n"


def _lp_folder(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    root = tmp_path / "lp"
    (root / "labeled-data").mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(root / f"labeled-data/img{i}.png"), np.zeros((30, 50), np.uint8))
    (root / "CollectedData.csv").write_text(header + "\n".join(rows) + "\n")
    return root


def test_small_folder(tmp_path: Path) -> None:
    root = _lp_folder(tmp_path, ["labeled-data/img0.png,5,6,40.5,20", "labeled-data/img1.png,,,41,21"])
    report = run_convert("lightning-pose", root, tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert data.file_names == ["labeled-data/img0.png", "labeled-data/img1.png"]
    assert data.visibility.tolist() == [[2, 2], [0, 2]]
    np.testing.assert_allclose(data.keypoints.reshape(2, -1), [[5, 6, 40.5, 20], [0, 0, 41, 21]])
    assert meta.keypoint_names == ["nose_top", "tail_top"] and meta.skeleton.shape == (0, 2)
    assert (report.images, report.instances, report.keypoints) == (2, 2, 2)
    assert (data.bboxes[:, 2] <= 50).all() and (data.bboxes[:, 3] <= 30).all()


def test_mirror_mouse_matches_reference(shared_data: Path, tmp_path: Path, match_reference) -> None:
    src = shared_data / "lightning_pose_mirror_mouse"
    report = run_convert("lightning-pose", src, tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    ref = load_coco(src / "coco/annotations.json", image_root=src)
    assert match_reference(data, ref) == 90 == report.instances
    assert meta.keypoint_names == ref.categories[0]["keypoints"]
    table = read_table(src / "CollectedData.csv")
    assert report.defaulted["unlabelled keypoint -> 0,0,0"] == int((~np.isfinite(table.xy).all(-1)).sum())
    assert len(list((tmp_path / "out/images/labeled-data").iterdir())) == 90


@pytest.mark.parametrize(
    "rows,header,message,entry",
    [
        (["labeled-data/img0.png,1,2"], "scorer,lp,lp\nindividuals,a,a\nbodyparts,n,n\ncoords,x,y\n", "single-animal", "header"),
        (["labeled-data/img0.png,1,2,3,4"], "bodyparts,nose,nose\ncoords,x,y\n", "no 'scorer' header row", "row 1"),
        (["labeled-data/img7.png,1,2,3,4"], HEADER, "image not found", "row labeled-data/img7.png"),
        (["labeled-data/img0.png,1,2,x3,4"], HEADER, "'x3' is not a finite number", "row 4 (labeled-data/img0.png), column tail_top/x"),
        (["labeled-data/img0.png,,,,", "labeled-data/img1.png,nan,nan,,"], HEADER, "no labelled frames", None),
        (["../img0.png,1,2,3,4"], HEADER, "escapes the image root", "row ../img0.png"),
    ],
)
def test_bad_input(tmp_path: Path, rows: list[str], header: str, message: str, entry: str | None) -> None:
    root = _lp_folder(tmp_path, rows, header)
    with pytest.raises(DataError, match=message) as err:
        run_convert("lightning-pose", root, tmp_path / "out")
    assert (err.value.file or "").endswith("CollectedData.csv") and err.value.entry == entry
    assert not (tmp_path / "out").exists()


def test_folder_without_csv_names_what_it_found(tmp_path: Path) -> None:
    (tmp_path / "lp").mkdir()
    (tmp_path / "lp/other.csv").write_text("x\n")
    with pytest.raises(DataError, match=r"no CollectedData\.csv here \(found: other\.csv\)"):
        run_convert("lightning-pose", tmp_path / "lp", tmp_path / "out")
