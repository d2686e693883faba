"""Identities across frames: synthetic crossings, and ID switches on a real tracked SLEAP clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose.errors import ConfigError
from pose.inference.api import FrameResult
from pose.inference.tracker import PoseTracker, TrackerConfig, id_switches

SHAPE = np.array([[0, 0], [40, 0], [0, 40], [40, 40], [20, 20]], np.float64)  # one "animal": 5 keypoints, 40 px


def frame_of(centres: list[np.ndarray]) -> FrameResult:
    kpts = np.stack([c + SHAPE - 20 for c in centres]) if centres else np.zeros((0, 5, 2))
    boxes = np.concatenate([kpts.min(1) - 2, kpts.max(1) + 2], axis=1) if centres else np.zeros((0, 4))
    n = len(centres)
    return FrameResult((400, 400), boxes.astype(np.float32), np.ones(n, np.float32), kpts.astype(np.float32),
                       np.ones((n, 5), np.float32))


def crossing(tracker: PoseTracker, frames: int = 21) -> list[list[int]]:
    """Two animals moving at 8 px/frame towards and through each other; they meet between frames."""
    ids = []
    for f in range(frames):
        a = np.array([100 + 8 * f - 0.5 * 8, 200.0])
        b = np.array([100 + 8 * (frames - 1) - 8 * f + 0.5 * 8, 203.0])
        ids.append(tracker.update(frame_of([a, b])).tolist())
    return ids


def test_crossing_keeps_identities_thanks_to_motion() -> None:
    ids = crossing(PoseTracker(5))
    assert all(i == [0, 1] for i in ids), ids
    no_motion = crossing(PoseTracker(5, config=TrackerConfig(momentum=0.0)))
    assert no_motion[-1] == [1, 0]  # nearest-last-position swaps them: the test can fail


def test_dropped_detections_and_new_animals() -> None:
    tracker = PoseTracker(5, config=TrackerConfig(max_age=3))
    a, b = np.array([50.0, 50.0]), np.array([300.0, 300.0])
    assert tracker.update(frame_of([a, b])).tolist() == [0, 1]
    assert tracker.update(frame_of([b + 2])).tolist() == [1]  # a missed for two frames
    assert tracker.update(frame_of([])).tolist() == []
    assert tracker.update(frame_of([b + 4, a + 3])).tolist() == [1, 0]  # a comes back as itself
    for _ in range(5):
        tracker.update(frame_of([b]))
    assert tracker.update(frame_of([a, b])).tolist() == [2, 1]  # a lost for longer than max_age: a new id


def test_known_number_of_animals() -> None:
    tracker = PoseTracker(5, config=TrackerConfig(max_tracks=2))
    a, b = np.array([50.0, 50.0]), np.array([300.0, 300.0])
    assert tracker.update(frame_of([a, b])).tolist() == [0, 1]
    # a jumps far (a missed stretch): with two animals known, it keeps its id instead of a third
    result = frame_of([b, np.array([200.0, 50.0]), np.array([390.0, 390.0])])
    assert tracker.update(result).tolist() == [1, 0] and len(result) == 2  # the third detection is dropped
    assert result.track_ids.tolist() == [1, 0] and result.keypoints.shape == (2, 5, 2)


def test_id_switch_count() -> None:
    assert id_switches([np.array([0, 1]), np.array([1, 0]), np.array([0])], [np.array([5, 6]), np.array([6, 5]), np.array([5])]) == 0
    assert id_switches([np.array([0, 1]), np.array([0, 1]), np.array([0])], [np.array([5, 6]), np.array([6, 5]), np.array([6])]) == 2
    with pytest.raises(ConfigError, match="--track-thr"):
        PoseTracker(5, config=TrackerConfig(threshold=0.0))


# ----------------------------------------------------------------------------- the real clip
@pytest.fixture(scope="module")
def clip(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labelled flies of sleap_samples/tracks/clip.slp: points (1500, 2, 13, 2) with NaN
    where unlabelled, and each instance's true track (1500, 2); every frame has both flies."""
    import sleap_io as sio

    labels = sio.load_slp(str(shared_data / "sleap_samples/tracks/clip.slp"))
    names = [t.name for t in labels.tracks]
    frames = sorted(labels.labeled_frames, key=lambda lf: lf.frame_idx)
    assert [lf.frame_idx for lf in frames] == list(range(1500)) and {len(lf.instances) for lf in frames} == {2}
    points = np.stack([np.stack([i.numpy() for i in lf.instances]) for lf in frames])
    tracks = np.array([[names.index(i.track.name) for i in lf.instances] for lf in frames])
    return points, tracks


def clip_detections(clip: tuple[np.ndarray, np.ndarray], step: int, noise: float, drop: float, seed: int
                    ) -> tuple[list[FrameResult], list[np.ndarray]]:
    """The clip's labelled instances as detections: every ``step``-th frame, Gaussian noise of
    ``noise`` px, each instance dropped with probability ``drop``, shuffled in each frame; plus
    each detection's true identity."""
    rng = np.random.default_rng(seed)
    results, truth = [], []
    for pts, ids in zip(*(a[::step] for a in clip)):
        keep = rng.permutation(len(ids))[rng.random(len(ids)) >= drop]
        pts, ids = pts[keep], ids[keep]
        found = np.isfinite(pts).all(-1)
        scores = np.where(found, rng.uniform(0.5, 1.0, found.shape), 0.0)
        pts = np.where(found[..., None], pts + rng.normal(0, noise, pts.shape), 0.0)
        lo = np.array([p[f].min(0) - 10 for p, f in zip(pts, found)]).reshape(-1, 2)
        hi = np.array([p[f].max(0) + 10 for p, f in zip(pts, found)]).reshape(-1, 2)
        results.append(FrameResult((1024, 1024), np.concatenate([lo, hi], 1).astype(np.float32), np.ones(len(ids), np.float32),
                                   pts.astype(np.float32), scores.astype(np.float32)))
        truth.append(ids)
    return results, truth


def switches_on_clip(clip: tuple[np.ndarray, np.ndarray], config: TrackerConfig, **kw: float) -> tuple[int, int]:
    """(ID switches, track ids handed out) of the tracker on ``clip_detections``."""
    results, truth = clip_detections(clip, **kw)  # type: ignore[arg-type]
    tracker = PoseTracker(13, config=config)
    predicted = [tracker.update(r) for r in results]
    return id_switches(truth, predicted), tracker.next_id


def test_real_clip_full_rate(clip: tuple[np.ndarray, np.ndarray]) -> None:
    """All 1500 frames, 3 px noise, 20% of detections dropped: measured 0 switches, 2 tracks (seeds 0-3)."""
    assert switches_on_clip(clip, TrackerConfig(), step=1, noise=3.0, drop=0.2, seed=0) == (0, 2)


def test_real_clip_every_fifth_frame(clip: tuple[np.ndarray, np.ndarray]) -> None:
    """Every 5th frame (flies move 5x further between frames), 5 px noise, 30% dropped, seeds 0-3:
    measured 10 switches in all (6, 1, 1, 2) with the motion prior, 27 (10, 4, 7, 6) without it,
    0 with two animals known (max_tracks=2). Most switches are a fly lost after a dropped or far
    detection and restarted under a new id."""
    kw = dict(step=5, noise=5.0, drop=0.3)
    motion = [switches_on_clip(clip, TrackerConfig(), seed=s, **kw)[0] for s in range(4)]
    still = [switches_on_clip(clip, TrackerConfig(momentum=0.0), seed=s, **kw)[0] for s in range(4)]
    known = [switches_on_clip(clip, TrackerConfig(max_tracks=2), seed=s, **kw)[0] for s in range(4)]
    assert sum(motion) <= 12 and sum(still) > sum(motion) + 8 and sum(known) == 0, (motion, still, known)
