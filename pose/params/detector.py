"""``params/detector.yaml``: detector training and testing (same rules as every params file)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator

from pose.params.base import Strict
from pose.params.train import TrainParams

#: The detector presets a params file may name -> their default input size (long side, px);
#: ``pose.detection.presets`` builds each of them and takes its size from here.
PRESET_INPUT_SIZES: dict[str, int] = {
    "fcos-tiny": 192,
    "fcos-lite0": 256,
    "ssdlite320-mobilenetv3": 320,
    "fasterrcnn-mobilenetv3-fpn": 320,
    "fcos-resnet50": 512,
}
#: ``preset: none``: no detector (one animal that fills the frame). Pose training uses the labelled boxes anyway; the detector stage
#: writes a marker checkpoint instead of training (``pose.detection.none``), evaluation scores GT
#: boxes only, publishing registers the pose model alone, and ``pose infer --follow`` finds the
#: animal from the previous frame's keypoints.
NO_DETECTOR = "none"


@dataclass(frozen=True)
class DetAug:
    """The detection dataset's augmentation (``pose.detection.dataset`` applies it)."""

    flip: float = 0.5  # probability of a horizontal flip
    scale: tuple[float, float] = (0.75, 1.25)  # zoom range; (1, 1) disables scale jitter
    min_box: float = 2.0  # boxes thinner than this (px, after augmentation) are dropped


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
    preset: str = Field("fcos-lite0", description=f"a detector preset, or '{NO_DETECTOR}' (one animal filling the frame: no detector; README, Lab projects)")
    input_size: int | None = Field(256, ge=32, le=4096, description="long side in px; None = the preset's")
    pretrained: str | None = Field(None, min_length=1, description="null (the preset's default: imagenet for fcos-lite0, else none) | "
                                   "imagenet | none | PATH: a torchvision detection file of the same preset, a posepipe detector "
                                   "checkpoint, or a ResNet ImageNet file for fcos-resnet50")
    train: TrainParams = TrainParams(epochs=8, batch_size=8, workers=2, lr=3e-3, weight_decay=0.05, warmup_iters=100, ema=True, clip_grad=10.0, val_interval=4,
                                       freeze_stages=3, finetune_epochs=4)
    aug: DetectorAugParams = DetectorAugParams()
    test: DetectorTestParams = DetectorTestParams()

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str) -> str:
        if v not in PRESET_INPUT_SIZES and v != NO_DETECTOR:
            raise ValueError(f"unknown detector preset '{v}' (one of {', '.join([*PRESET_INPUT_SIZES, NO_DETECTOR])})")
        return v

    @property
    def no_detector(self) -> bool:
        """``preset: none``: no detector is trained."""
        return self.preset == NO_DETECTOR

    def resolved_input_size(self) -> int:
        return self.input_size or PRESET_INPUT_SIZES.get(self.preset, 0)
