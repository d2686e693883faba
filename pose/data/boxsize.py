"""The crop size a dataset calls for: ``model.input_size: auto`` follows the typical (median)
labelled box, keeping its aspect (within ``MAX_ASPECT``), rounded to a multiple of 32 within
``LONG_SIDE`` on the long side.

Lab projects differ by an order of magnitude in how many pixels an animal covers (a mouse in a
640x480 open field, a fly in a 1 MP arena, a person in a 5 MP frame); a fixed crop either throws
away resolution or wastes compute. The median over the training boxes ignores a few odd boxes.
The aspect is bounded because animals turn: the first 60 openfield frames have a median mouse
box of 133x35, yet a mouse seen end-on fills a box the other way round, and a 4:1 crop of it
would shrink it to a few pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose.data.coco import CocoData
from pose.errors import DataError

#: Allowed long side of an automatic input size (px); the short side is at least ``MULTIPLE``.
LONG_SIDE = (64, 256)
MULTIPLE = 32
#: Most elongated automatic input (long side / short side).
MAX_ASPECT = 2.0


@dataclass(frozen=True)
class AutoSize:
    """An input size chosen from a dataset's boxes, and what it was chosen from."""

    input_size: tuple[int, int]  # (w, h)
    box: tuple[float, float]  # median labelled box (w, h), px
    boxes: int  # how many boxes the median is over

    def describe(self) -> str:
        (w, h), (bw, bh) = self.input_size, self.box
        return f"input size {w}x{h} from median box {bw:.0f}x{bh:.0f} over {self.boxes} boxes"


def typical_box(data: CocoData) -> tuple[float, float, int]:
    """Median (w, h) of the boxes of instances with labelled keypoints (crowd boxes left out)."""
    keep = (data.num_labelled > 0) & ~data.iscrowd
    b = data.bboxes[keep]
    b = b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]
    if not len(b):
        raise DataError("no labelled boxes to size the crops from (model.input_size: auto)", file=data.source)
    return float(np.median(b[:, 2] - b[:, 0])), float(np.median(b[:, 3] - b[:, 1])), len(b)


def _round(v: float) -> int:
    return max(MULTIPLE, int(round(v / MULTIPLE)) * MULTIPLE)


def auto_input_size(box_w: float, box_h: float) -> tuple[int, int]:
    """(w, h): the box's long side rounded to a multiple of 32 and clamped to ``LONG_SIDE``,
    the short side scaled by the box's aspect (at most ``MAX_ASPECT``) and rounded the same way."""
    lo, hi = LONG_SIDE
    long_box, short_box = max(box_w, box_h), min(box_w, box_h)
    long_side = min(max(_round(long_box), lo), hi)
    short_box = max(short_box, long_box / MAX_ASPECT)
    short_side = min(_round(long_side * short_box / max(long_box, 1e-6)), long_side)
    return (long_side, short_side) if box_w >= box_h else (short_side, long_side)


def auto_size(data: CocoData) -> AutoSize:
    """The input size for ``data``'s typical box."""
    w, h, n = typical_box(data)
    return AutoSize(auto_input_size(w, h), (w, h), n)
