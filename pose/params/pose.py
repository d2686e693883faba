"""``params/pose.yaml``: top-down pose training and testing, the augmentation included."""

from __future__ import annotations

from dataclasses import fields
from typing import Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass

from pose.errors import ConfigError
from pose.params.base import Strict
from pose.params.train import TrainParams


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class AugConfig:
    """Training augmentation (``aug:``); defaults follow MMPose's top-down COCO recipes.

    Each random op fires with its own probability. Scale is a truncated normal on
    ``scale_range``; shift (as a fraction of the box size) and rotation (degrees) are truncated
    normals times their factor, as MMPose's ``RandomBBoxTransform``. Photometric ops (brightness
    delta, contrast and saturation factors, hue delta in OpenCV's 0..180 hue units) each fire with
    ``photometric_prob``. A pydantic dataclass: typed like the rest of the params, and what
    ``pose.data.transforms`` applies as is.
    """

    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_keypoints: int = 9
    half_body_min_upper: int = 2
    half_body_min_lower: int = 3
    half_body_padding: float = 1.5
    half_body_upper_prob: float = 0.7
    shift_factor: float = 0.16
    shift_prob: float = 0.3
    scale_range: tuple[float, float] = (0.75, 1.25)
    scale_prob: float = 1.0
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6
    photometric_prob: float = 0.5
    brightness: float = 32.0
    contrast: tuple[float, float] = (0.5, 1.5)
    saturation: tuple[float, float] = (0.5, 1.5)
    hue: float = 18.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_prob") and not 0.0 <= v <= 1.0:
                raise ConfigError(f"probability must be in [0, 1], got {v}", entry=f"aug.{f.name}")
            if isinstance(v, tuple) and not (len(v) == 2 and 0 < v[0] <= v[1]):
                raise ConfigError(f"range must be (low, high) with 0 < low <= high, got {v}", entry=f"aug.{f.name}")
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise ConfigError(f"must be >= 0, got {v}", entry=f"aug.{f.name}")

    @classmethod
    def off(cls) -> AugConfig:
        """No random op fires (evaluation-style crops)."""
        return cls(flip_prob=0, half_body_prob=0, shift_prob=0, scale_prob=0, rotate_prob=0, photometric_prob=0)


class PoseModelParams(Strict):
    preset: str = "rtmpose-t"
    input_size: tuple[int, int] | Literal["auto"] | None = Field(
        None, description="(w, h); auto = the training boxes' median size, aspect kept, a multiple of 32 with the long "
        "side in 64..256 (pose.data.boxsize; resolved once and recorded in the checkpoint); None = the preset's")

    @field_validator("input_size", mode="before")
    @classmethod
    def _size_or_auto(cls, v: object) -> object:
        """One message for a wrong value, not one per member of the union."""
        if v is None or v == "auto":
            return v
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return tuple(v)
        raise ValueError("Input should be a valid tuple [w, h] of integers, auto or null")
    pretrained: str | None = Field(None, min_length=1, description="imagenet | none | PATH (an MMPose, torchvision, timm or "
                                   "posepipe file); None = the preset's default (`pose models`: pretrained column)")


class PoseTestParams(Strict):
    flip: bool = True
    batch_size: int = Field(64, ge=1)


class PoseParams(Strict):
    """``params/pose.yaml``: top-down pose training and testing."""

    dataset: str = "data/synth"
    meta: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    model: PoseModelParams = PoseModelParams()
    train: TrainParams = TrainParams()
    aug: AugConfig = AugConfig()
    test: PoseTestParams = PoseTestParams()
