"""``params/detector.yaml``: the detector's typed params (pydantic, same rules as ``pose.config``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from pose.config import Strict, TrainParams
from pose.detection.dataset import DetAug
from pose.detection.presets import PRESETS


class DetectorAugParams(Strict):
    flip: float = Field(0.5, ge=0, le=1, description="horizontal flip probability")
    scale: tuple[float, float] = Field((0.6, 1.5), description="zoom range of the scale jitter")
    min_box: float = Field(2.0, ge=0, description="boxes thinner than this (px) after augmentation are dropped")

    @field_validator("scale")
    @classmethod
    def _scale_order(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi, got {v}")
        return v

    def to_aug(self) -> DetAug:
        return DetAug(flip=self.flip, scale=self.scale, min_box=self.min_box)


class DetectorTestParams(Strict):
    batch_size: int = Field(16, ge=1)
    score_thr: float = Field(0.3, ge=0, le=1, description="inference default (evaluation keeps every box)")
    nms_thr: float = Field(0.5, gt=0, le=1)


class DetectorParams(Strict):
    """Detector training and testing: dataset, preset, input size, optimisation, augmentation."""

    dataset: str = "data/synth"
    train_split: str = "train"
    val_split: str = "val"
    preset: str = "fcos-tiny"
    input_size: int | None = Field(320, ge=32, le=4096, description="long side in px; None = the preset's")
    train: TrainParams = TrainParams(epochs=64, batch_size=8, workers=2, lr=3e-3, weight_decay=0.05, warmup_iters=100, ema=True, clip_grad=10.0, val_interval=8)
    aug: DetectorAugParams = DetectorAugParams()
    test: DetectorTestParams = DetectorTestParams()

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in PRESETS:
            raise ValueError(f"unknown detector preset '{v}' (one of {', '.join(PRESETS)})")
        return v

    def resolved_input_size(self) -> int:
        return self.input_size or PRESETS[self.preset].input_size
