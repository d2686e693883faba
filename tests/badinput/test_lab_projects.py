"""Broken lab projects (DeepLabCut, Lightning Pose): a config listing bodyparts no label file has,
and label rows whose frame is missing from labeled-data. ``pose data convert`` and the pipeline's
``prepare`` stage both stop with one line naming the file and the entry, exit 2, nothing written.
(Videos that do not open, have zero frames, are truncated or have a variable frame rate:
tests/badinput/test_videos.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from badinput.support import assert_nothing_written, assert_user_error, run_cli, write_png

HEADER = "scorer,me,me,me,me\nbodyparts,snout,snout,tail,tail\ncoords,x,y,x,y\n"


def dlc_project(root: Path, *, bodyparts: list[str], rows: list[str]) -> Path:
    """A DeepLabCut project with frames img0.png and img1.png of video v1 and these label rows."""
    for i in range(2):
        write_png(root / f"labeled-data/v1/img{i}.png")
    (root / "config.yaml").write_text(yaml.safe_dump({"Task": "tiny", "bodyparts": bodyparts, "skeleton": []}))
    csv = root / "labeled-data/v1/CollectedData_me.csv"
    csv.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return root


GOOD_ROWS = ["labeled-data/v1/img0.png,10,12,30,20", "labeled-data/v1/img1.png,11,13,31,21"]


def test_config_bodypart_in_no_label_file(tmp_path: Path) -> None:
    src = dlc_project(tmp_path / "proj", bodyparts=["snout", "tail", "leftear"], rows=GOOD_ROWS)
    r = run_cli("data", "convert", "--from", "dlc", "--to", "coco", src, tmp_path / "out")
    assert_user_error(r, file=src / "config.yaml", entry="bodyparts", says="leftear listed but in no label file")
    assert_nothing_written(tmp_path / "out")


def test_label_row_whose_frame_is_missing(tmp_path: Path) -> None:
    src = dlc_project(tmp_path / "proj", bodyparts=["snout", "tail"], rows=[*GOOD_ROWS, "labeled-data/v1/img7.png,1,2,3,4"])
    r = run_cli("data", "convert", "--from", "dlc", "--to", "coco", src, tmp_path / "out")
    assert_user_error(r, file=src / "labeled-data/v1/CollectedData_me.csv", entry="row labeled-data/v1/img7.png", says="image not found")
    assert_nothing_written(tmp_path / "out")


def test_lightning_pose_row_whose_frame_is_missing(tmp_path: Path) -> None:
    src = tmp_path / "lp"
    write_png(src / "labeled-data/img0.png")
    (src / "CollectedData.csv").write_text(HEADER + "labeled-data/img0.png,1,2,3,4\nlabeled-data/img5.png,1,2,3,4\n")
    r = run_cli("data", "convert", "--from", "lightning-pose", "--to", "coco", src, tmp_path / "out")
    assert_user_error(r, file=src / "CollectedData.csv", entry="row labeled-data/img5.png", says="image not found")
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("case", ["config-bodypart", "missing-frame"])
def test_prepare_stage_refuses_the_project(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = GOOD_ROWS if case == "config-bodypart" else [*GOOD_ROWS, "labeled-data/v1/img7.png,1,2,3,4"]
    parts = ["snout", "tail", "leftear"] if case == "config-bodypart" else ["snout", "tail"]
    dlc_project(tmp_path / "data/proj", bodyparts=parts, rows=rows)
    (tmp_path / "params").mkdir()
    (tmp_path / "params/data.yaml").write_text(yaml.safe_dump({"source": "dlc", "path": "data/proj"}))
    monkeypatch.chdir(tmp_path)
    r = run_cli("pipeline", "prepare", "--params", "params/data.yaml", "--out", "build/dataset")
    culprit = "data/proj/config.yaml" if case == "config-bodypart" else "data/proj/labeled-data/v1/CollectedData_me.csv"
    first = assert_user_error(r, file=None)
    assert culprit in first, first
    assert_nothing_written(tmp_path / "build/dataset")
    assert not [p for p in tmp_path.joinpath("build").rglob("*") if p.is_file()], "no file of a half-prepared dataset"
