"""Small building blocks shared by backbones and heads.

Attribute names follow mmcv's ``ConvModule`` (``conv``, ``bn``, ``activate``) so that MMPose /
MMDetection state dicts map onto these modules key for key.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvModule(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> optional activation (SiLU or ReLU)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        act: type[nn.Module] | None = nn.SiLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.activate = act(inplace=True) if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


def init_normal(module: nn.Module, std: float = 0.001) -> None:
    """MMPose's head / HRNet init: convs and linears ~ N(0, std), biases 0, norms 1."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
