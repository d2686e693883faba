"""The per-frame results of one video that every lab-format writer reads.

``pose infer`` appends one ``FrameResult`` per decoded frame (none skipped, so list index =
frame index); a frame where nothing was found holds zero instances. With tracking on, every
frame carries ``track_ids`` and each id is one animal (one DLC individual, one SLEAP track, one
NWB ``PoseEstimation``). Without tracking, or for a single animal (``single``: tracked with at
most one track), the formats that need one animal per row (DLC, NWB) take the most confident
instance of each frame and use their single-animal layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose.data.meta import DatasetMeta
from pose.inference.api import FrameResult

#: The single identity used when results are not tracked.
UNTRACKED = -1


@dataclass
class Identities:
    """Per identity, per frame arrays; NaN where that identity was not found in a frame."""

    ids: list[int]  # track ids, or [UNTRACKED]
    keypoints: np.ndarray  # (T, F, K, 2) float64
    scores: np.ndarray  # (T, F, K) float64
    instance_scores: np.ndarray  # (T, F) float64 (mean keypoint score)

    def names(self) -> list[str]:
        return [track_name(i) for i in self.ids]


def track_name(track_id: int) -> str:
    """The name of a track id in every output: ``track_0``, ``track_1``, ..."""
    return "untracked" if track_id == UNTRACKED else f"track_{track_id}"


@dataclass
class VideoResults:
    """What the writers need: the video, the model, the keypoint set and one result per frame."""

    source: str  # the analysed video
    model: str  # the pose model file (its stem names the DLC scorer)
    meta: DatasetMeta
    fps: float
    frame_size: tuple[int, int]  # (w, h)
    frames: list[FrameResult] = field(default_factory=list)
    single: bool = False  # one animal: single-animal layouts even when tracked

    def add(self, result: FrameResult) -> None:
        self.frames.append(result)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def tracked(self) -> bool:
        return bool(self.frames) and all(f.track_ids is not None for f in self.frames)

    @property
    def multi(self) -> bool:
        """One row group per track id (DLC individuals, one NWB PoseEstimation per track)."""
        return self.tracked and not self.single

    @property
    def model_name(self) -> str:
        return Path(self.model).stem

    def timestamps(self) -> np.ndarray:
        """(F,) seconds from the first frame (constant frame rate: the reader refuses variable ones)."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    def track_ids(self) -> list[int]:
        """Every track id seen, sorted; ``[UNTRACKED]`` without tracking."""
        if not self.tracked:
            return [UNTRACKED]
        seen = {int(t) for f in self.frames for t in f.track_ids}  # type: ignore[union-attr]
        return sorted(seen)

    def identities(self) -> Identities:
        """Arrays per track (``multi``), else one identity: each frame's most confident instance."""
        ids = self.track_ids() if self.multi else [UNTRACKED]
        row = {t: i for i, t in enumerate(ids)}
        n, k = self.num_frames, self.meta.num_keypoints
        kpts = np.full((len(ids), n, k, 2), np.nan)
        scores = np.full((len(ids), n, k), np.nan)
        inst = np.full((len(ids), n), np.nan)
        for fi, frame in enumerate(self.frames):
            if not len(frame):
                continue
            means = frame.keypoint_scores.mean(axis=1)
            picks = [(row[int(t)], j) for j, t in enumerate(frame.track_ids)] if self.multi \
                else [(0, int(np.argmax(means)))]  # type: ignore[arg-type]
            for r, j in picks:
                kpts[r, fi], scores[r, fi], inst[r, fi] = frame.keypoints[j], frame.keypoint_scores[j], means[j]
        return Identities(ids, kpts, scores, inst)
