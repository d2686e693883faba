"""``params/data.yaml``: where the raw inputs come from and how they are split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pose.params.base import Strict


class SynthParams(Strict):
    """The embedded default dataset (``pose data synth``)."""

    kind: Literal["human", "quadruped"] = "human"
    images: int = Field(400, ge=1, le=1_000_000)
    seed: int = 0
    size: int = Field(320, ge=64, le=4096)
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)


class DataParams(Strict):
    """``params/data.yaml``: where the raw inputs come from and how they are split."""

    source: Literal["synth", "coco", "yolo", "dlc", "sleap", "lightning-pose", "labelme"] = "synth"
    path: str | None = Field(None, description="raw input under data/ (ignored for synth)")
    meta: str | None = Field(None, description="preset name or meta YAML path; None = from the source")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="images held out when the source has no val split")
    split_seed: int = 0
    synth: SynthParams = SynthParams()
