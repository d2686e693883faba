"""One Euro smoothing: less jitter at rest, little lag on a step, per track, low scores untouched."""

from __future__ import annotations

import numpy as np
import pytest

from pose.errors import ConfigError
from pose.inference.api import FrameResult
from pose.inference.smoothing import OneEuroFilter

FPS = 30.0


def run(filt: OneEuroFilter, signal: np.ndarray, track: int = 0) -> np.ndarray:
    ok = np.ones(signal.shape[1], bool)
    return np.stack([filt.filter(track, f, signal[f], ok) for f in range(len(signal))])


def test_reduces_jitter_on_a_noisy_constant_signal() -> None:
    rng = np.random.default_rng(0)
    noisy = np.array([120.0, 80.0]) + rng.normal(0, 2.0, (300, 5, 2))
    smooth = run(OneEuroFilter(FPS), noisy)
    raw_jitter = np.abs(np.diff(noisy, axis=0)).mean()
    smooth_jitter = np.abs(np.diff(smooth, axis=0)).mean()
    assert smooth_jitter < 0.4 * raw_jitter
    assert np.abs(smooth[30:] - [120.0, 80.0]).mean() < 0.7 * np.abs(noisy[30:] - [120.0, 80.0]).mean()


def test_follows_a_step() -> None:
    step = np.zeros((60, 1, 2))
    step[20:] = 50.0
    out = run(OneEuroFilter(FPS), step)
    assert np.allclose(out[:20], 0)
    assert out[20, 0, 0] > 30  # most of the way in the step's own frame (measured 40.1)
    assert abs(out[25, 0, 0] - 50) < 0.5  # there within 5 frames
    slow = run(OneEuroFilter(FPS, beta=0.0), step)  # without the speed term it lags
    assert abs(slow[30, 0, 0] - 50) > 5.0


def test_tracks_are_filtered_apart_and_low_scores_pass_through() -> None:
    filt = OneEuroFilter(FPS)
    kpts = np.array([[[10.0, 10.0], [20.0, 20.0]], [[300.0, 300.0], [310.0, 310.0]]], np.float32)
    for f in range(5):
        r = FrameResult((400, 400), np.zeros((2, 4), np.float32), np.ones(2, np.float32), kpts.copy(),
                        np.array([[0.9, 0.9], [0.9, 0.1]], np.float32), track_ids=np.array([0, 1]))
        r.keypoints[:, 1] += 5 * (f % 2)  # keypoint 1 jitters by 5 px
        filt.apply(r, f)
    assert np.allclose(r.keypoints[0, 0], [10, 10]) and np.allclose(r.keypoints[1, 0], [300, 300])  # no cross-talk
    assert 20 < r.keypoints[0, 1, 0] < 25  # smoothed
    assert r.keypoints[1, 1, 0] == 310.0  # score 0.1: passed through (frame 4 is even: no jitter added)
    with pytest.raises(ConfigError, match="needs track ids"):
        filt.apply(FrameResult((4, 4), np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2, 2)), np.zeros((0, 2))), 5)
    with pytest.raises(ConfigError, match="--smooth-min-cutoff"):
        OneEuroFilter(FPS, min_cutoff=0)
    with pytest.raises(ConfigError, match="--smooth-beta"):
        OneEuroFilter(FPS, beta=-1)
