"""Heatmap head: optional deconvolutions then a 1x1 conv to one map per keypoint.

SimpleBaseline (Xiao et al. 2018): three 4x4 stride-2 deconvs of 256 channels (BN, ReLU)
take stride-32 features to stride 8 ... 4. HRNet: no deconv, only the final 1x1 conv on the
stride-4 branch. Names follow MMPose's ``HeatmapHead`` (``deconv_layers``, ``final_layer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from pose.models.layers import init_normal


class HeatmapHead(nn.Module):
    """(B, C, h, w) -> (B, K, h * 2**len(deconv_channels), w * 2**len(deconv_channels))."""

    target_keys: ClassVar[tuple[str, ...]] = ("heatmaps",)

    def __init__(self, in_channels: int, num_keypoints: int, deconv_channels: Sequence[int] = (256, 256, 256),
                 deconv_kernel: int = 4) -> None:
        super().__init__()
        padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[deconv_kernel]
        layers: list[nn.Module] = []
        for c in deconv_channels:
            layers += [
                nn.ConvTranspose2d(in_channels, c, deconv_kernel, 2, padding, output_padding, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            in_channels = c
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 1)
        self.upsample = 2 ** len(deconv_channels)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(x))
