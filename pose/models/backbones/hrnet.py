"""HRNet (Sun et al. 2019) as used by MMPose's top-down heatmap models.

Stem (two stride-2 3x3 convs) -> stage 1 (4 Bottlenecks, 256 channels) -> stages 2-4 with
2/3/4 parallel branches of widths ``w, 2w, 4w, 8w``, built from 1/4/3 ``HRModule``s of 4
BasicBlocks per branch plus multi-scale fusion. The last module fuses into the
highest-resolution branch only, which is the output: (B, w, H/4, W/4).
Module names follow MMPose's ``HRNet`` so its checkpoints load key for key.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from pose.models.layers import init_normal


def _conv_bn(cin: int, cout: int, kernel_size: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _fuse_layer(channels: tuple[int, ...], src: int, dst: int) -> nn.Module:
    """Resample branch ``src`` to the resolution and width of branch ``dst``."""
    if src == dst:
        return nn.Identity()
    if src > dst:
        return nn.Sequential(
            nn.Conv2d(channels[src], channels[dst], 1, bias=False),
            nn.BatchNorm2d(channels[dst]),
            nn.Upsample(scale_factor=2 ** (src - dst), mode="nearest"),
        )
    steps = dst - src
    return nn.Sequential(*[
        _conv_bn(channels[src], channels[dst] if k == steps - 1 else channels[src], 3, 2, relu=k < steps - 1)
        for k in range(steps)
    ])


class HRModule(nn.Module):
    """Parallel branches of BasicBlocks, then every output branch sums all resampled inputs."""

    def __init__(self, channels: tuple[int, ...], num_blocks: int, multiscale_output: bool = True) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c, c) for _ in range(num_blocks)]) for c in channels
        )
        outputs = len(channels) if multiscale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_layer(channels, j, i) for j in range(len(channels))) for i in range(outputs)
        ) if len(channels) > 1 else nn.ModuleList()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if not len(self.fuse_layers):
            return xs
        out = []
        for fuse in self.fuse_layers:
            y = fuse[0](xs[0])
            for layer, x in zip(fuse[1:], xs[1:]):
                y = y + layer(x)
            out.append(self.relu(y))
        return out


def _transition(prev: tuple[int, ...], cur: tuple[int, ...]) -> nn.ModuleList:
    """Adapt existing branches (conv only where the width changes) and add one stride-2 branch."""
    layers: list[nn.Module] = []
    for i, c in enumerate(cur):
        if i < len(prev):
            layers.append(_conv_bn(prev[i], c, 3) if prev[i] != c else nn.Identity())
        else:
            layers.append(nn.Sequential(_conv_bn(prev[-1], c, 3, 2)))
    return nn.ModuleList(layers)


class HRNet(nn.Module):
    """HRNet-W``width``: (B, 3, H, W) -> (B, width, H/4, W/4)."""

    stride = 4

    def __init__(self, width: int = 32, num_modules: tuple[int, int, int] = (1, 4, 3), num_blocks: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        down = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
        self.layer1 = nn.Sequential(Bottleneck(64, 64, downsample=down), *[Bottleneck(256, 64) for _ in range(3)])
        prev: tuple[int, ...] = (256,)
        for s, modules in enumerate(num_modules, start=2):
            cur = tuple(width * 2**b for b in range(s))
            last = s == len(num_modules) + 1
            stage = nn.Sequential(*[
                HRModule(cur, num_blocks, multiscale_output=not (last and m == modules - 1)) for m in range(modules)
            ])
            setattr(self, f"transition{s - 1}", _transition(prev, cur))
            setattr(self, f"stage{s}", stage)
            prev = cur
        self.num_stages = len(num_modules)
        self.out_channels: int = width
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        xs = [self.layer1(x)]
        for s in range(2, self.num_stages + 2):
            transition = getattr(self, f"transition{s - 1}")
            xs = [t(xs[min(i, len(xs) - 1)]) for i, t in enumerate(transition)]
            xs = getattr(self, f"stage{s}")(xs)
        return xs[0]


def hrnet_w32() -> HRNet:
    return HRNet(32)


def hrnet_w48() -> HRNet:
    return HRNet(48)
