"""SLEAP predictions: sleap-io reads back the same points, scores, tracks and skeleton."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sleap_io as sio

from pose.inference.outputs.results import VideoResults
from pose.inference.outputs.slp import write_slp

from output_cases import PRESENT, leftovers


def test_tracked_predictions_round_trip(tracked: VideoResults, tmp_path: Path) -> None:
    path = write_slp(tracked, tmp_path / "preds.slp")
    labels = sio.load_slp(str(path))
    meta = tracked.meta
    assert labels.skeletons[0].node_names == meta.keypoint_names
    edges = {(meta.keypoint_names[a], meta.keypoint_names[b]) for a, b in meta.skeleton.tolist()}
    assert {(e.source.name, e.destination.name) for e in labels.skeletons[0].edges} == edges
    assert sorted(t.name for t in labels.tracks) == ["track_0", "track_1", "track_2"]
    assert [lf.frame_idx for lf in labels.labeled_frames] == [i for i, ids in enumerate(PRESENT) if ids]
    assert Path(labels.videos[0].filename).name == "mouse cam1.mp4"
    for lf in labels.labeled_frames:
        frame = tracked.frames[lf.frame_idx]
        assert [inst.track.name for inst in lf.instances] == [f"track_{t}" for t in PRESENT[lf.frame_idx]]
        for j, inst in enumerate(lf.instances):
            assert isinstance(inst, sio.PredictedInstance)
            np.testing.assert_allclose(inst.numpy(), frame.keypoints[j], rtol=1e-6)
            np.testing.assert_allclose(inst.points["score"], frame.keypoint_scores[j], rtol=1e-6)
            assert abs(inst.score - float(frame.keypoint_scores[j].mean())) < 1e-6
    assert leftovers(tmp_path) == []


def test_untracked_predictions_keep_every_instance(untracked: VideoResults, tmp_path: Path) -> None:
    labels = sio.load_slp(str(write_slp(untracked, tmp_path / "preds.slp")))
    assert labels.tracks == []
    assert [len(lf.instances) for lf in labels.labeled_frames] == [len(ids) for ids in PRESENT if ids]
    assert all(inst.track is None for lf in labels.labeled_frames for inst in lf.instances)
