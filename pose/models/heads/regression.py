"""Regression head (DeepPose-style, MMPose's ``RegressionHead``): global average pool, then a
linear layer to K (x, y) pairs, normalised to the input size by the regression codec."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn


class RegressionHead(nn.Module):
    """(B, C, h, w) -> (B, K, 2) coordinates in [0, 1] of the input (w, h)."""

    target_keys: ClassVar[tuple[str, ...]] = ("coords",)

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.fc = nn.Linear(in_channels, num_keypoints * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3))).unflatten(1, (self.num_keypoints, 2))
