"""``pose infer --follow``: one animal without a detector. The first frame is posed on the whole
frame; each next frame on the box of the previous frame's keypoints, padded by ``pad`` of its
size on every side; when the mean keypoint score drops below ``min_score`` (the animal left the
box, or was never found) the next frame goes back to the whole frame.

When it works: the whole-frame pass must find the animal, i.e. the animal must fill a good part of
the frame at the model's input size (the Lightning Pose mirror mouse: its box is the frame). On
the openfield video a 130 px mouse in a 640x480 frame is ~25 px of a 128x64 input: the first pass
lands elsewhere, still scores ~0.45, and the box never narrows (README, "Lab projects end to end":
on the animal in 0.7% of frames against 100% with a detector). There, train a detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pose.inference.api import FrameResult, full_frame_box

#: Fewest confident keypoints that define a box; fewer -> every keypoint of the instance.
MIN_SURE = 2


@dataclass
class BoxFollower:
    """The box to pose the next frame on, from the last result (see the module note)."""

    pad: float = 0.25
    min_score: float = 0.3
    min_side: float = 16.0  # px: a box never shrinks below this (a curled-up animal, one sure keypoint)
    box: np.ndarray | None = field(default=None, repr=False)  # (4,) xyxy, or None: whole frame next
    full_frames: int = 0  # frames posed on the whole frame (the first and each recovery)

    def next_boxes(self, image: np.ndarray) -> np.ndarray:
        """(1, 4) xyxy box for ``image``: the followed box, or the whole frame."""
        if self.box is None:
            self.full_frames += 1
            return full_frame_box(image)
        return self.box[None].copy()

    def update(self, result: FrameResult) -> None:
        """Follow ``result``'s first instance, or fall back to the whole frame when it is unsure."""
        if not len(result) or float(result.keypoint_scores[0].mean()) < self.min_score:
            self.box = None
            return
        pts, scores = result.keypoints[0], result.keypoint_scores[0]
        sure = scores >= self.min_score
        pts = pts[sure] if sure.sum() >= MIN_SURE else pts
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        size = np.maximum(hi - lo, self.min_side)
        centre = (lo + hi) / 2
        half = size * (0.5 + self.pad)
        w, h = result.image_size
        x1, y1 = np.maximum(centre - half, 0.0)
        x2, y2 = np.minimum(centre + half, (w, h))
        self.box = np.array([x1, y1, x2, y2], np.float32) if x2 - x1 >= 1 and y2 - y1 >= 1 else None
