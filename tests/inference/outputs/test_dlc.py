"""DeepLabCut .h5/.csv: DLC's readers (pandas + PyTables) load them with DLC's header levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pose.inference.outputs.dlc import HDF_KEY, write_dlc
from pose.inference.outputs.results import VideoResults

from output_cases import PRESENT, leftovers


def test_single_animal_files_load_as_dlc_reads_them(untracked: VideoResults, tmp_path: Path) -> None:
    h5, csv = write_dlc(untracked, tmp_path / "out")
    assert h5.name == "mouse cam1DLC_r18-best.h5" and csv.name == "mouse cam1DLC_r18-best.csv"
    from_h5 = pd.read_hdf(h5, HDF_KEY)
    from_csv = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    k = untracked.meta.num_keypoints
    for df in (from_h5, from_csv):
        assert df.columns.names == ["scorer", "bodyparts", "coords"]
        assert df.shape == (len(PRESENT), 3 * k)
        assert list(df.index) == list(range(len(PRESENT)))
        assert set(df.columns.get_level_values("scorer")) == {"DLC_r18-best"}
        assert list(df.columns.get_level_values("bodyparts").unique()) == untracked.meta.keypoint_names
    np.testing.assert_allclose(from_csv.to_numpy(), from_h5.to_numpy(), rtol=1e-9)
    assert from_h5.loc[2].isna().all() and not from_h5.drop(index=2).isna().any().any()
    # the most confident instance of frame 4 (three found) is the row
    frame = untracked.frames[4]
    best = int(np.argmax(frame.keypoint_scores.mean(1)))
    row = from_h5.loc[4, "DLC_r18-best"]
    np.testing.assert_allclose(row["nose"][["x", "y"]].to_numpy(), frame.keypoints[best, 0], rtol=1e-6)
    assert row["right_ankle"]["likelihood"] == pytest.approx(float(frame.keypoint_scores[best, -1]))
    assert leftovers(tmp_path / "out") == []


def test_tracked_files_have_individuals(tracked: VideoResults, tmp_path: Path) -> None:
    h5, csv = write_dlc(tracked, tmp_path)
    from_h5 = pd.read_hdf(h5)  # the only key
    from_csv = pd.read_csv(csv, header=[0, 1, 2, 3], index_col=0)
    for df in (from_h5, from_csv):
        assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
        assert list(df.columns.get_level_values("individuals").unique()) == ["track_0", "track_1", "track_2"]
    for fi, ids in enumerate(PRESENT):
        for t in range(3):
            cell = from_h5.sort_index(axis=1).loc[fi, ("DLC_r18-best", f"track_{t}", "left_hip")]
            if t in ids:
                j = ids.index(t)
                np.testing.assert_allclose(cell[["x", "y"]].to_numpy(), tracked.frames[fi].keypoints[j, 11], rtol=1e-6)
                assert cell["likelihood"] == pytest.approx(float(tracked.frames[fi].keypoint_scores[j, 11]))
            else:
                assert cell.isna().all()


def test_single_animal_tracked_keeps_the_single_animal_header(tracked: VideoResults, tmp_path: Path) -> None:
    tracked.single = True  # --max-tracks 1
    h5, _ = write_dlc(tracked, tmp_path)
    df = pd.read_hdf(h5)
    assert df.columns.names == ["scorer", "bodyparts", "coords"] and df.shape == (len(PRESENT), 3 * 17)


def test_failed_write_leaves_neither_file(untracked: VideoResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_dlc(untracked, tmp_path)
    assert list(tmp_path.iterdir()) == []
