"""``params/eval.yaml``: what the evaluate stage measures."""

from __future__ import annotations

from pydantic import Field

from pose.params.base import Strict


class EvalParams(Strict):
    """``params/eval.yaml``: what the evaluate stage measures."""

    split: str = "val"
    flip: bool = True
    pck_thresholds: list[float] = Field(default_factory=lambda: [0.05, 0.1], description="headline PCK@a keys in metrics.json")
    curve_max: float = Field(0.5, gt=0, le=2, description="PCK-vs-threshold curve from 0 to this (bbox-normalised)")
    curve_points: int = Field(50, ge=2, le=1000)
    det_score_thr: float = Field(0.3, ge=0, le=1, description="detector boxes below this score are not cropped")
    batch_size: int = Field(64, ge=1)
    examples: int = Field(4, ge=0, le=100, description="GT-vs-prediction PNGs (detector boxes) of the first N images of the split")
