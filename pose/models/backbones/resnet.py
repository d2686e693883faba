"""ResNet backbones from torchvision (``weights=None``), without the pooling and classifier.

Module names equal torchvision's, so ImageNet weights load with ``strict=False``.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision import models


class ResNet(nn.Module):
    """(B, 3, H, W) -> (B, C, H/32, W/32) stride-32 features of a torchvision ResNet."""

    stride = 32

    def __init__(self, net: models.ResNet) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.out_channels: int = net.fc.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def stages(self) -> list[list[nn.Module]]:
        """The stem, then ``layer1``..``layer4`` (what ``train.freeze_stages`` counts)."""
        return [[self.conv1, self.bn1], [self.layer1], [self.layer2], [self.layer3], [self.layer4]]


def resnet18() -> ResNet:
    return ResNet(models.resnet18(weights=None))


def resnet34() -> ResNet:
    return ResNet(models.resnet34(weights=None))


def resnet50() -> ResNet:
    return ResNet(models.resnet50(weights=None))


def resnet101() -> ResNet:
    return ResNet(models.resnet101(weights=None))


def resnet152() -> ResNet:
    return ResNet(models.resnet152(weights=None))
