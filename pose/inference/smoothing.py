"""Temporal smoothing of tracked keypoints: the One Euro filter (Casiez, Roussel and Vogel, CHI 2012).

A low-pass filter whose cutoff rises with speed: at rest the cutoff is ``min_cutoff`` (Hz), so
jitter is removed; moving, it grows by ``beta`` per pixel/second of (smoothed) speed, so fast
motion is followed with little lag. Lower ``min_cutoff`` = smoother at rest; higher ``beta`` =
less lag when moving. One filter per track id and keypoint coordinate; a keypoint scoring below
``kpt_thr`` (or not finite) is passed through and does not update its filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pose.errors import ConfigError
from pose.inference.api import FrameResult


def smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Exponential smoothing weight of the newest sample for a cutoff (Hz) and period (s)."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


@dataclass
class _State:
    x: np.ndarray  # (K, 2) filtered positions
    dx: np.ndarray  # (K, 2) filtered velocities (pixels / s)
    frame: int


class OneEuroFilter:
    """One Euro filters over (K, 2) keypoints, one state per track id; frames must come in order."""

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
                 kpt_thr: float = 0.3) -> None:
        if not fps > 0:
            raise ConfigError(f"needs the video's frame rate, got {fps}", entry="--smooth")
        if min_cutoff <= 0 or d_cutoff <= 0:
            raise ConfigError(f"must be > 0, got {min_cutoff}", entry="--smooth-min-cutoff")
        if beta < 0:
            raise ConfigError(f"must be >= 0, got {beta}", entry="--smooth-beta")
        self.fps, self.min_cutoff, self.beta, self.d_cutoff, self.kpt_thr = fps, min_cutoff, beta, d_cutoff, kpt_thr
        self.states: dict[int, _State] = {}

    def filter(self, track_id: int, frame: int, points: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Smoothed (K, 2) ``points`` of one track at frame index ``frame``; ``ok`` (K,) marks
        the keypoints to filter."""
        state = self.states.get(track_id)
        points = np.asarray(points, np.float64)
        if state is None:
            x = np.where(ok[:, None], points, np.nan)
            self.states[track_id] = _State(x, np.zeros_like(points), frame)
            return points.copy()
        dt = max(frame - state.frame, 1) / self.fps
        fresh = ok & ~np.isfinite(state.x).all(-1)  # first time this keypoint is sure: start there
        dx = (points - state.x) / dt
        a_d = smoothing_factor(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * state.dx
        a = smoothing_factor(self.min_cutoff + self.beta * np.linalg.norm(dx_hat, axis=-1, keepdims=True), dt)
        x_hat = a * points + (1 - a) * state.x
        use = (ok & ~fresh)[:, None]
        state.x = np.where(use, x_hat, np.where(fresh[:, None], points, state.x))
        state.dx = np.where(use, dx_hat, state.dx)
        state.frame = frame
        return np.where(use, x_hat, points)

    def apply(self, result: FrameResult, frame: int) -> FrameResult:
        """Smooth every tracked instance of ``result`` (in place); it must carry ``track_ids``."""
        if result.track_ids is None:
            raise ConfigError("smoothing needs track ids: run the tracker first", entry="--smooth")
        for i, tid in enumerate(result.track_ids.tolist()):
            ok = (result.keypoint_scores[i] >= self.kpt_thr) & np.isfinite(result.keypoints[i]).all(-1)
            result.keypoints[i] = self.filter(int(tid), frame, result.keypoints[i], ok).astype(result.keypoints.dtype)
        return result
