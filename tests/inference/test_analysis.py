"""VideoAnalysis: options checked before any frame, ids and smoothing applied in place, every lab file written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sleap_io as sio

from pose.data.meta import load_meta
from pose.errors import ConfigError
from pose.inference.analysis import AnalysisOptions, VideoAnalysis
from pose.inference.api import FrameResult, PoseModel
from pose.inference.video import open_source

from inference.test_video import make_video

META = load_meta("coco")


def pose_model(path: Path) -> PoseModel:
    return PoseModel(net=None, meta=META, input_size=(48, 64), source=str(path), kind="checkpoint")


def two_animals(f: int, rng: np.random.Generator) -> FrameResult:
    """Two instances moving apart, listed in a random order, with 1 px jitter and heatmaps."""
    base = np.stack([np.linspace(0, 30, 17), np.linspace(0, 20, 17)], 1)
    kpts = np.stack([base + [10 + 2 * f, 10], base + [50, 30 + f]]) + rng.normal(0, 1, (2, 17, 2))
    order = rng.permutation(2)
    kpts = kpts[order].astype(np.float32)
    boxes = np.concatenate([kpts.min(1), kpts.max(1)], 1).astype(np.float32)
    return FrameResult((96, 64), boxes, np.ones(2, np.float32), kpts, np.full((2, 17), 0.9, np.float32),
                       heatmaps=np.zeros((2, 17, 4, 4), np.float32), heatmap_matrices=np.zeros((2, 2, 3)))


def test_tracks_smooths_and_writes_every_format(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=6)
    source = open_source(video)
    opts = AnalysisOptions(smooth=True, save_dlc=tmp_path / "dlc", save_slp=tmp_path / "o.slp", save_nwb=tmp_path / "o.nwb")
    analysis = VideoAnalysis(opts, source, pose_model(tmp_path / "net.pth"))
    rng = np.random.default_rng(0)
    raw, smoothed = [], []
    for frame in source:
        result = two_animals(frame.index, rng)
        raw.append(result.keypoints.copy())
        analysis.observe(frame, result)
        assert sorted(result.track_ids.tolist()) == [0, 1]
        smoothed.append(result.keypoints[np.argsort(result.track_ids)])
    assert not np.allclose(np.stack(smoothed)[1:], np.stack([r for r in raw])[1:])  # smoothing changed keypoints
    assert all(r.heatmaps is None for r in analysis.results.frames)  # not kept in memory
    written = analysis.write()
    assert sorted(written) == ["dlc", "nwb", "slp"]
    df = pd.read_hdf(written["dlc"][0]).sort_index(axis=1)
    assert df.shape == (6, 2 * 17 * 3) and list(df.columns.get_level_values("individuals").unique()) == ["track_0", "track_1"]
    np.testing.assert_allclose(df.loc[5, ("DLC_net", "track_0", "nose")][["x", "y"]].to_numpy(), smoothed[5][0, 0], rtol=1e-6)
    assert len(sio.load_slp(written["slp"][0]).tracks) == 2 and Path(written["nwb"][0]).stat().st_size > 0


def test_max_tracks_one_is_single_animal(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=3)
    source = open_source(video)
    analysis = VideoAnalysis(AnalysisOptions(max_tracks=1, save_dlc=tmp_path), source, pose_model(tmp_path / "m.pth"))
    rng = np.random.default_rng(1)
    for frame in source:
        result = two_animals(frame.index, rng)
        analysis.observe(frame, result)
        assert result.track_ids.tolist() == [0] and len(result) == 1  # the other animal dropped
    df = pd.read_hdf(analysis.write()["dlc"][0])
    assert df.columns.names == ["scorer", "bodyparts", "coords"]


def test_bad_options_fail_before_any_frame(synth: Path, tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=2)
    model = pose_model(tmp_path / "m.pth")
    (tmp_path / "afile").write_text("x")
    cases = [
        (AnalysisOptions(save_slp=tmp_path / "o.h5"), "--save-slp: must end in .slp"),
        (AnalysisOptions(save_nwb=tmp_path / "o.slp"), "--save-nwb: must end in .nwb"),
        (AnalysisOptions(save_dlc=tmp_path / "afile"), "--save-dlc: is a file"),
        (AnalysisOptions(smooth=True, smooth_beta=-1), "--smooth-beta"),
        (AnalysisOptions(track=True, track_thr=0), "--track-thr"),
        (AnalysisOptions(max_tracks=0), "--max-tracks"),
    ]
    for opts, says in cases:
        with pytest.raises(ConfigError, match=says):
            VideoAnalysis(opts, open_source(video), model)
    with pytest.raises(ConfigError, match="--save-dlc: lab outputs are per video frame; the source is a folder"):
        VideoAnalysis(AnalysisOptions(save_dlc=tmp_path / "d"), open_source(synth / "images"), model)
    assert not (tmp_path / "d").exists()
