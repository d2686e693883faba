"""Identities across video frames: greedy pose matching with a constant-velocity motion prior
(as MMPose's demo tracker, plus motion), one track id per animal or person.

Each frame, every live track predicts where its keypoints and box are now (last position plus
its smoothed per-frame velocity times the frames since it was last seen). Detections and
predictions are compared by OKS over the keypoints both are sure of (``kpt_thr``), or by box IoU
when fewer than ``min_keypoints`` are shared; the most similar pairs are matched first while
their similarity is at least ``threshold``. A detection left over starts a new track (unless
``max_tracks`` tracks exist: then it takes over the most similar lost track, which suits a
fixed number of animals, and detections beyond that number are dropped); a track unseen for
more than ``max_age`` frames ends (never with ``max_tracks``: the animals are still there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pose.errors import ConfigError
from pose.inference.api import FrameResult

#: OKS falloff per keypoint when the meta has no sigmas (the median COCO body sigma).
DEFAULT_SIGMA = 0.072


@dataclass
class TrackerConfig:
    threshold: float = 0.3  # least similarity (OKS or IoU) of a match
    max_age: int = 30  # frames a lost track is kept
    kpt_thr: float = 0.3  # keypoints scoring below this are not compared
    min_keypoints: int = 3  # fewer shared keypoints: compare boxes (IoU)
    momentum: float = 0.5  # weight of the newest displacement in the velocity estimate
    max_tracks: int | None = None  # a known number of animals: no more ids than this

    def check(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"must be in (0, 1], got {self.threshold}", entry="--track-thr")
        if self.max_age < 0 or self.min_keypoints < 1 or not 0 <= self.momentum <= 1:
            raise ConfigError(f"bad tracker settings {self}", entry="tracker")
        if self.max_tracks is not None and self.max_tracks < 1:
            raise ConfigError(f"must be >= 1, got {self.max_tracks}", entry="--max-tracks")


@dataclass
class Track:
    id: int
    keypoints: np.ndarray  # (K, 2) last seen
    scores: np.ndarray  # (K,)
    box: np.ndarray  # (4,) xyxy
    last: int  # frame index last seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # pixels per frame

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints and box expected at ``frame`` (constant velocity)."""
        shift = self.velocity * (frame - self.last)
        return self.keypoints + shift, self.box + np.tile(shift, 2)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, 4) x (D, 4) xyxy -> (T, D) IoU."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def pose_similarity(pred_kpts: np.ndarray, pred_ok: np.ndarray, pred_boxes: np.ndarray, kpts: np.ndarray, ok: np.ndarray,
                    boxes: np.ndarray, sigmas: np.ndarray, min_keypoints: int) -> np.ndarray:
    """(T, D) similarity: OKS over keypoints sure in both (scale: the detection's box area), box
    IoU where fewer than ``min_keypoints`` are shared."""
    both = pred_ok[:, None, :] & ok[None, :, :]  # (T, D, K)
    d2 = ((np.nan_to_num(pred_kpts)[:, None] - np.nan_to_num(kpts)[None]) ** 2).sum(-1)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 1, None).prod(-1)  # (D,)
    e = d2 / (2 * area[None, :, None] * (2 * sigmas) ** 2)
    n = both.sum(-1)
    oks = np.where(both, np.exp(-e), 0).sum(-1) / np.maximum(n, 1)
    return np.where(n >= min_keypoints, oks, box_iou(pred_boxes, boxes))


def greedy_match(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """(row, col) pairs, most similar first, each row and column used once, similarity >= threshold."""
    pairs: list[tuple[int, int]] = []
    if sim.size == 0:
        return pairs
    used_r, used_c = set(), set()
    for flat in np.argsort(-sim, axis=None, kind="stable"):
        r, c = divmod(int(flat), sim.shape[1])
        if sim[r, c] < threshold:
            break
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


def keep_instances(result: FrameResult, keep: np.ndarray) -> None:
    """Drop the instances of ``result`` where ``keep`` is False (in place)."""
    for name in ("boxes", "box_scores", "keypoints", "keypoint_scores", "heatmaps", "heatmap_matrices", "track_ids"):
        value = getattr(result, name)
        if value is not None:
            setattr(result, name, value[keep])


def id_switches(truth: list[np.ndarray], predicted: list[np.ndarray]) -> int:
    """CLEAR-MOT identity switches: per frame, ``truth[f][i]`` is the true identity of the object
    that got track id ``predicted[f][i]``; a switch is a true identity getting a different id
    than the last time it was tracked."""
    last: dict[int, int] = {}
    switches = 0
    for true_ids, ids in zip(truth, predicted):
        for t, p in zip(np.asarray(true_ids).tolist(), np.asarray(ids).tolist()):
            if t in last and last[t] != p:
                switches += 1
            last[t] = p
    return switches


class PoseTracker:
    """Feed frames in order with ``update``; it returns (and sets) each frame's ``track_ids``."""

    def __init__(self, num_keypoints: int, sigmas: np.ndarray | None = None, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.config.check()
        self.sigmas = np.full(num_keypoints, DEFAULT_SIGMA) if sigmas is None else np.asarray(sigmas, np.float64)
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame = -1

    def update(self, result: FrameResult) -> np.ndarray:
        self.frame += 1
        cfg = self.config
        if cfg.max_tracks is None:
            self.tracks = [t for t in self.tracks if self.frame - t.last <= cfg.max_age]
        kpts, scores = result.keypoints.astype(np.float64), result.keypoint_scores
        ok = (scores >= cfg.kpt_thr) & np.isfinite(kpts).all(-1)
        ids = np.full(len(result), -1, np.int64)
        if self.tracks and len(result):
            sim = self._similarity(result, kpts, ok)
            for r, c in greedy_match(sim, cfg.threshold):
                ids[c] = self._extend(self.tracks[r], kpts[c], scores[c], ok[c], result.boxes[c])
            if cfg.max_tracks is not None:
                self._reassign(sim, ids, kpts, scores, ok, result.boxes)
        for c in np.flatnonzero(ids < 0):
            if cfg.max_tracks is None or len(self.tracks) < cfg.max_tracks:
                ids[c] = self._start(kpts[c], scores[c], result.boxes[c])
        if (ids < 0).any():
            keep_instances(result, ids >= 0)
            ids = ids[ids >= 0]
        result.track_ids = ids
        return ids

    def _similarity(self, result: FrameResult, kpts: np.ndarray, ok: np.ndarray) -> np.ndarray:
        preds = [t.predict(self.frame) for t in self.tracks]
        pred_kpts = np.stack([p[0] for p in preds])
        pred_boxes = np.stack([p[1] for p in preds])
        pred_ok = np.stack([(t.scores >= self.config.kpt_thr) & np.isfinite(t.keypoints).all(-1) for t in self.tracks])
        return pose_similarity(pred_kpts, pred_ok, pred_boxes, kpts, ok, result.boxes.astype(np.float64), self.sigmas,
                               self.config.min_keypoints)

    def _reassign(self, sim: np.ndarray, ids: np.ndarray, kpts: np.ndarray, scores: np.ndarray, ok: np.ndarray,
                  boxes: np.ndarray) -> None:
        """With a known number of animals, a detection left over goes to the most similar track
        not seen in this frame once every allowed track exists."""
        if len(self.tracks) < self.config.max_tracks:  # type: ignore[operator]
            return
        free = [r for r, t in enumerate(self.tracks) if t.last != self.frame]
        for c in np.flatnonzero(ids < 0):
            if not free:
                return
            r = max(free, key=lambda i: (sim[i, c], -abs(self.frame - self.tracks[i].last)))
            ids[c] = self._extend(self.tracks[r], kpts[c], scores[c], ok[c], boxes[c])
            free.remove(r)

    def _extend(self, track: Track, kpts: np.ndarray, scores: np.ndarray, ok: np.ndarray, box: np.ndarray) -> int:
        gap = max(self.frame - track.last, 1)
        seen = ok & (track.scores >= self.config.kpt_thr) & np.isfinite(track.keypoints).all(-1)
        if seen.any():
            step = (kpts[seen] - track.keypoints[seen]).mean(0) / gap
            track.velocity = self.config.momentum * step + (1 - self.config.momentum) * track.velocity
        track.keypoints = np.where(ok[:, None], kpts, track.keypoints + track.velocity * gap)
        track.scores = np.where(ok, scores, track.scores)
        track.box, track.last = np.asarray(box, np.float64), self.frame
        return track.id

    def _start(self, kpts: np.ndarray, scores: np.ndarray, box: np.ndarray) -> int:
        track = Track(self.next_id, kpts.copy(), scores.copy(), np.asarray(box, np.float64), self.frame)
        self.tracks.append(track)
        self.next_id += 1
        return track.id
