"""NWB via ndx-pose: pynwb reads back skeleton, positions, confidence and timestamps per track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pynwb import NWBHDF5IO

from pose.inference.outputs.nwb import write_nwb
from pose.inference.outputs.results import VideoResults

from output_cases import PRESENT, leftovers


def test_tracked_nwb_round_trip(tracked: VideoResults, tmp_path: Path) -> None:
    path = write_nwb(tracked, tmp_path / "session.nwb")
    meta = tracked.meta
    with NWBHDF5IO(str(path), mode="r") as io:
        nwb = io.read()
        behavior = nwb.processing["behavior"]
        skeleton = behavior["Skeletons"].skeletons[meta.name]
        assert list(skeleton.nodes[:]) == meta.keypoint_names
        np.testing.assert_array_equal(skeleton.edges[:], meta.skeleton)
        names = sorted(n for n in behavior.data_interfaces if n.startswith("PoseEstimation"))
        assert names == ["PoseEstimation_track_0", "PoseEstimation_track_1", "PoseEstimation_track_2"]
        assert nwb.acquisition["video"].external_file[0].endswith("mouse cam1.mp4")
        for t in range(3):
            pe = behavior[f"PoseEstimation_track_{t}"]
            assert pe.skeleton.name == meta.name and pe.source_software == "posepipe"
            series = pe.pose_estimation_series
            assert sorted(series) == sorted(meta.keypoint_names)
            elbow = series["left_elbow"]
            np.testing.assert_allclose(elbow.timestamps[:], np.arange(len(PRESENT)) / 30.0)
            for fi, ids in enumerate(PRESENT):
                if t in ids:
                    j = ids.index(t)
                    np.testing.assert_allclose(elbow.data[fi], tracked.frames[fi].keypoints[j, 7], rtol=1e-6)
                    assert abs(elbow.confidence[fi] - tracked.frames[fi].keypoint_scores[j, 7]) < 1e-6
                else:
                    assert np.isnan(elbow.data[fi]).all() and np.isnan(elbow.confidence[fi])
    assert leftovers(tmp_path) == []


def test_untracked_nwb_has_one_pose_estimation(untracked: VideoResults, tmp_path: Path) -> None:
    with NWBHDF5IO(str(write_nwb(untracked, tmp_path / "s.nwb")), mode="r") as io:
        behavior = io.read().processing["behavior"]
        assert sorted(behavior.data_interfaces) == ["PoseEstimation", "Skeletons"]
        assert behavior["PoseEstimation"].pose_estimation_series["nose"].data.shape == (len(PRESENT), 2)
