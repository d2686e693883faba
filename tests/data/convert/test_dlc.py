import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest

from pose.data.coco import load_coco
from pose.data.convert import REPORT, run_convert
from pose.data.convert.tabular import read_table
from pose.data.layout import load_dataset
from pose.errors import DataError

OPENFIELD = "dlc_openfield/openfield-Pranav-2018-10-30"
HEADER = "scorer,me,me,me,me,me,me\nbodyparts,leftpaw,leftpaw,rightpaw,rightpaw,nose,nose\ncoords,x,y,x,y,x,y\n"
ROWS = [
    "labeled-data/v1/img0.png,10,12,30,14.5,20,40",
    "labeled-data/v1/img1.png,11,13,31,15,,",
    "labeled-data/v1/img2.png,,,,,,",
]


def _project(tmp_path: Path, rows: list[str] = ROWS, header: str = HEADER) -> Path:
    """A tiny single-animal DeepLabCut project with three 64x48 frames."""
    proj = tmp_path / "proj"
    video = proj / "labeled-data" / "v1"
    video.mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(video / f"img{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    (proj / "config.yaml").write_text("Task: tiny\nbodyparts: [leftpaw, rightpaw, nose]\nskeleton:\n- [leftpaw, nose]\n- [nose, tail]\n")
    (video / "CollectedData_me.csv").write_text(header + "\n".join(rows) + "\n")
    return proj


def test_project_folder(tmp_path: Path) -> None:
    report = run_convert("dlc", _project(tmp_path), tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert data.file_names == ["labeled-data/v1/img0.png", "labeled-data/v1/img1.png"]
    assert (tmp_path / "out/images/labeled-data/v1/img1.png").is_file()
    assert data.visibility.tolist() == [[2, 2, 2], [2, 2, 0]]
    np.testing.assert_allclose(data.keypoints[0], [[10, 12], [30, 14.5], [20, 40]])
    assert data.widths.tolist() == [64, 64] and data.heights.tolist() == [48, 48]
    assert meta.name == "tiny" and meta.keypoint_names == ["leftpaw", "rightpaw", "nose"]
    assert meta.swap == ["rightpaw", "leftpaw", ""] and meta.sigmas is None
    assert meta.skeleton.tolist() == [[0, 2]]
    assert (report.images, report.instances, report.keypoints) == (2, 2, 3)
    assert report.derived["visibility (labelled -> 2)"] == 5
    assert report.defaulted["unlabelled keypoint -> 0,0,0"] == 1
    reasons = {d["reason"] for d in report.dropped}
    assert any("img2.png" in d["entry"] for d in report.dropped) and "no labelled keypoints" in reasons
    assert any("nose-tail" in d["entry"] for d in report.dropped)
    assert json.loads((tmp_path / "out" / REPORT).read_text())["instances"] == 2


def test_three_column_index_equals_one_column(tmp_path: Path) -> None:
    v2_header = "".join(line.replace(",", ",,,", 1) + "\n" for line in HEADER.strip().split("\n"))
    v2_rows = [r.replace("labeled-data/v1/", "labeled-data,v1,") for r in ROWS]
    run_convert("dlc", _project(tmp_path / "a"), tmp_path / "a/out")
    run_convert("dlc", _project(tmp_path / "b", v2_rows, v2_header), tmp_path / "b/out")
    a = json.loads((tmp_path / "a/out/annotations/train.json").read_text())
    b = json.loads((tmp_path / "b/out/annotations/train.json").read_text())
    assert a == b and len(a["annotations"]) == 2


def test_single_csv_and_video_folder_resolve_to_project(tmp_path: Path) -> None:
    proj = _project(tmp_path)
    run_convert("dlc", proj / "labeled-data/v1/CollectedData_me.csv", tmp_path / "o1")
    run_convert("dlc", proj / "labeled-data/v1", tmp_path / "o2")
    for out in ("o1", "o2"):
        data, meta = load_dataset(tmp_path / out)
        assert data.file_names[0] == "labeled-data/v1/img0.png" and meta.skeleton.tolist() == [[0, 2]]


def test_openfield_matches_reference(shared_data: Path, tmp_path: Path, match_reference) -> None:
    report = run_convert("dlc", shared_data / OPENFIELD, tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    ref = load_coco(shared_data / "dlc_openfield/coco/annotations.json", image_root=shared_data / "dlc_openfield")
    assert match_reference(data, ref) == 116 == report.instances
    assert meta.keypoint_names == ref.categories[0]["keypoints"]
    assert meta.flip_pairs.tolist() == [[1, 2]]
    assert data.image_path(0).is_file()


def test_h5_equals_csv(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / OPENFIELD / "labeled-data/m4s1"
    run_convert("dlc", folder / "CollectedData_Pranav.csv", tmp_path / "csv")
    run_convert("dlc", folder / "CollectedData_Pranav.h5", tmp_path / "h5")
    a = json.loads((tmp_path / "csv/annotations/train.json").read_text())
    b = json.loads((tmp_path / "h5/annotations/train.json").read_text())
    assert a == b and len(b["annotations"]) == 116


@pytest.mark.parametrize("name", ["dlc_testdata.csv", "dlc_testdata_v2.csv", "madlc_testdata.csv", "madlc_testdata_v2.csv", "maudlc_testdata_v2.csv", "CollectedData_LM.csv"])
def test_sleap_csv_variants_match_pandas(shared_data: Path, name: str) -> None:
    path = shared_data / "sleap_samples/dlc/labeled-data/video" / name
    table = read_table(path)
    multi = table.multi_animal
    index_cols = list(range(3 if ("_v2" in name or "LM" in name) else 1))
    df = pd.read_csv(path, header=list(range(4 if multi else 3)), index_col=index_cols)
    assert table.images == ["/".join(map(str, i)) if isinstance(i, tuple) else i for i in df.index]
    for col in df.columns:
        ind, bp, coord = (col[1], col[2], col[3]) if multi else ("", col[1], col[2])
        if ind == "single":
            continue
        got = table.xy[:, table.individuals.index(ind), table.bodyparts.index(bp), "xy".index(coord)]
        np.testing.assert_array_equal(got, df[col].to_numpy(np.float64))
    assert table.unique_bodyparts == (["D", "E"] if "maudlc" in name or "LM" in name else [])


def test_ragged_header_rows_equal_v2(shared_data: Path) -> None:
    folder = shared_data / "sleap_samples/dlc/labeled-data/video"
    a, b = read_table(folder / "maudlc_testdata.csv"), read_table(folder / "maudlc_testdata_v2.csv")
    np.testing.assert_array_equal(a.xy, b.xy)
    assert a.images == b.images and a.unique_bodyparts == b.unique_bodyparts


def test_multi_animal_project_config(shared_data: Path, tmp_path: Path) -> None:
    report = run_convert("dlc", shared_data / "sleap_samples/dlc/madlc_230_config.yaml", tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    table = read_table(shared_data / "sleap_samples/dlc/labeled-data/video/CollectedData_LM.csv")
    expected = np.isfinite(table.xy).all(-1).any(-1)  # (rows, individuals) with a labelled point
    assert len(data) == int(expected.sum()) == report.instances
    assert len(data.file_names) == int(expected.any(1).sum())
    assert meta.keypoint_names == ["A", "B", "C"] and meta.skeleton.tolist() == [[0, 1], [1, 2], [0, 2]]
    np.testing.assert_allclose(data.keypoints[:2].reshape(2, -1), np.nan_to_num(table.xy[0].reshape(2, -1)))
    assert any("unique bodyparts D, E" in w for w in report.warnings)


def test_multiple_datasets_folder(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "sleap_samples/dlc_multiple_datasets"
    report = run_convert("dlc", src, tmp_path / "out")
    data, _ = load_dataset(tmp_path / "out")
    assert data.file_names == ["video1/img000.jpg", "video1/img001.jpg", "video2/img002.jpg"]
    tables = [read_table(src / "video1/dlc_dataset_1.csv"), read_table(src / "video2/dlc_dataset_2.csv")]
    n = sum(int(np.isfinite(t.xy).all(-1).any(-1).sum()) for t in tables)
    assert len(data) == n == report.instances
    assert report.derived["image path (label file's folder + file name)"] == 3
    assert all(data.image_path(r).is_file() for r in range(len(data.file_names)))


@pytest.mark.parametrize(
    "rows,header,message,entry",
    [
        (ROWS, "frame,leftpaw,leftpaw\n", "no 'scorer' header row", "row 1"),
        (["labeled-data/v1/img0.png,10,abc,30,14,20,40"], HEADER, "'abc' is not a finite number", "row 4 (labeled-data/v1/img0.png), column leftpaw/y"),
        (["labeled-data/v1/img9.png,10,12,30,14,20,40"], HEADER, "image not found", "row labeled-data/v1/img9.png"),
        (["labeled-data/v1/img0.png,,,,,,"], HEADER, "no labelled frames", None),
        (["labeled-data/v1/img0.png,1,2,3,4,5,6", "labeled-data/v1/img0.png,1,2,3,4,5,6"], HEADER, "image listed in two rows", "row labeled-data/v1/img0.png"),
    ],
)
def test_bad_input(tmp_path: Path, rows: list[str], header: str, message: str, entry: str | None) -> None:
    proj = _project(tmp_path, rows, header)
    with pytest.raises(DataError, match=message) as err:
        run_convert("dlc", proj, tmp_path / "out")
    assert err.value.file is not None and err.value.file.endswith("CollectedData_me.csv")
    assert err.value.entry == entry
    assert not (tmp_path / "out").exists()


def test_unsupported_h5_points_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "CollectedData_me.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(DataError, match="pandas DataFrame") as err:
        run_convert("dlc", path, tmp_path / "out")
    assert "CSV" in (err.value.hint or "")


def test_no_label_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no DeepLabCut label files"):
        run_convert("dlc", tmp_path / "empty", tmp_path / "out")


def test_likelihood_ignored_and_half_points_unlabelled(tmp_path: Path) -> None:
    header = "scorer,me,me,me,me,me,me\nbodyparts,leftpaw,leftpaw,leftpaw,nose,nose,nose\ncoords,x,y,likelihood,x,y,likelihood\n"
    proj = _project(tmp_path, ["labeled-data/v1/img0.png,10,12,0.9,20,,0.1"], header)
    (proj / "config.yaml").write_text("Task: tiny\nbodyparts: [leftpaw, nose]\n")  # the parts this table labels
    report = run_convert("dlc", proj, tmp_path / "out")
    data, _ = load_dataset(tmp_path / "out")
    assert data.visibility.tolist() == [[2, 0]]
    assert any("likelihood ignored" in w for w in report.warnings)
    assert any("1 points with only one of x/y" in w for w in report.warnings)


def test_bodypart_without_y_column(tmp_path: Path) -> None:
    header = "scorer,me,me,me\nbodyparts,leftpaw,leftpaw,nose\ncoords,x,y,x\n"
    proj = _project(tmp_path, ["labeled-data/v1/img0.png,10,12,20"], header)
    with pytest.raises(DataError, match="'nose' has only one of its x/y columns"):
        run_convert("dlc", proj, tmp_path / "out")
