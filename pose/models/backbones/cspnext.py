"""CSPNeXt (RTMDet / RTMPose backbone), as MMDetection's ``CSPNeXt`` with arch P5.

Stem of three 3x3 convs (stride 2) -> four stages, each a stride-2 3x3 conv, an SPP block
(last stage only) and a CSP layer whose blocks are 3x3 conv + 5x5 depthwise-separable conv,
with channel attention on the concatenated halves. BN + SiLU everywhere. Output: the
stride-32 map of the last stage (``out_indices=(4,)``). Module names follow MMDetection, so
RTMPose checkpoints load key for key.
"""

from __future__ import annotations

import torch
from torch import nn

from pose.models.layers import ConvModule

# (in, out, blocks, add_identity, use_spp) before the widen / deepen factors.
ARCH_P5 = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False), (512, 1024, 3, False, True))


class DepthwiseSeparableConvModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, groups=in_channels)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    """3x3 conv -> 5x5 depthwise-separable conv, with an identity shortcut when asked."""

    def __init__(self, channels: int, add_identity: bool, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv1 = ConvModule(channels, channels, 3)
        self.conv2 = DepthwiseSeparableConvModule(channels, channels, kernel_size)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Squeeze-excite without reduction: x * hardsigmoid(fc(avgpool(x)))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)
        self.act = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(x.mean((2, 3), keepdim=True)))


class CSPLayer(nn.Module):
    """Split into a main path (blocks) and a shortcut path, concatenate, attend, fuse."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, add_identity: bool,
                 expand_ratio: float = 0.5, channel_attention: bool = True) -> None:
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvModule(in_channels, mid, 1)
        self.short_conv = ConvModule(in_channels, mid, 1)
        self.final_conv = ConvModule(2 * mid, out_channels, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid) if channel_attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), 1)
        return self.final_conv(self.attention(y))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling with max pools 5/9/13, computed as three chained 5x5 pools
    (SPPF): the same outputs as MMDetection's parallel pools, for less work."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvModule(in_channels, mid, 1)
        self.pool = nn.MaxPool2d(5, 1, 2)
        self.conv2 = ConvModule(mid * 4, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        p1 = self.pool(x)
        p2 = self.pool(p1)
        return self.conv2(torch.cat((x, p1, p2, self.pool(p2)), 1))


class CSPNeXt(nn.Module):
    """CSPNeXt-P5 scaled by ``deepen_factor`` (blocks) and ``widen_factor`` (channels)."""

    stride = 32

    def __init__(self, deepen_factor: float, widen_factor: float, expand_ratio: float = 0.5,
                 channel_attention: bool = True) -> None:
        super().__init__()
        stem = int(ARCH_P5[0][0] * widen_factor // 2)
        self.stem = nn.Sequential(
            ConvModule(3, stem, 3, stride=2),
            ConvModule(stem, stem, 3),
            ConvModule(stem, int(ARCH_P5[0][0] * widen_factor), 3),
        )
        for i, (cin, cout, blocks, add_identity, use_spp) in enumerate(ARCH_P5, start=1):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            layers: list[nn.Module] = [ConvModule(cin, cout, 3, stride=2)]
            if use_spp:
                layers.append(SPPBottleneck(cout, cout))
            layers.append(CSPLayer(cout, cout, max(round(blocks * deepen_factor), 1), add_identity,
                                   expand_ratio, channel_attention))
            setattr(self, f"stage{i}", nn.Sequential(*layers))
        self.out_channels: int = int(ARCH_P5[-1][1] * widen_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.stage4(self.stage3(self.stage2(self.stage1(x))))

    def stages(self) -> list[list[nn.Module]]:
        """The stem, then ``stage1``..``stage4`` (what ``train.freeze_stages`` counts)."""
        return [[self.stem], [self.stage1], [self.stage2], [self.stage3], [self.stage4]]


def cspnext_t() -> CSPNeXt:
    return CSPNeXt(0.167, 0.375)


def cspnext_s() -> CSPNeXt:
    return CSPNeXt(0.33, 0.5)


def cspnext_m() -> CSPNeXt:
    return CSPNeXt(0.67, 0.75)


def cspnext_l() -> CSPNeXt:
    return CSPNeXt(1.0, 1.0)
