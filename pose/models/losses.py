"""Keypoint losses, as MMPose 1.x defines them (same reductions, so loss curves compare).

Every loss takes ``(pred, target, weights)``: ``pred`` / ``target`` a tensor or a tuple of
tensors (SimCC x and y), ``weights`` (B, K) keypoint weights from the codec.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pose.errors import ConfigError, build_by_name

Outputs = torch.Tensor | tuple[torch.Tensor, ...]


class KeypointMSELoss(nn.Module):
    """Mean over (B, K, H, W) of ``w_k (pred - target)^2``; with ``ohkm_topk`` the mean of the
    ``topk`` largest per-keypoint losses per instance instead (online hard keypoint mining,
    MMPose's ``KeypointOHKMMSELoss``, where the weight multiplies pred and target)."""

    def __init__(self, use_target_weight: bool = True, ohkm_topk: int | None = None, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.ohkm_topk = ohkm_topk
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        sq = (pred - target).square()
        if self.use_target_weight:
            w = weights[..., None, None]
            sq = sq * (w * w if self.ohkm_topk else w)
        if self.ohkm_topk is None:
            return sq.mean() * self.loss_weight
        if pred.shape[1] < self.ohkm_topk:
            raise ConfigError(f"ohkm_topk={self.ohkm_topk} exceeds the {pred.shape[1]} keypoints", entry="loss.ohkm_topk")
        per_kpt = sq.mean((2, 3))
        return per_kpt.topk(self.ohkm_topk, dim=1, sorted=False).values.mean() * self.loss_weight


class KLDiscretLoss(nn.Module):
    """SimCC loss of RTMPose: per axis, KL(softmax(beta * target) || softmax(beta * pred)),
    averaged over bins, weighted per keypoint, summed over instances and keypoints and divided
    by K (MMPose's reduction: the loss grows with the batch size)."""

    def __init__(self, beta: float = 10.0, label_softmax: bool = True, use_target_weight: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, pred: tuple[torch.Tensor, ...], target: tuple[torch.Tensor, ...],
                weights: torch.Tensor) -> torch.Tensor:
        num_keypoints = pred[0].shape[1]
        loss = pred[0].new_zeros(())
        for p, t in zip(pred, target):
            log_pt = F.log_softmax(p * self.beta, dim=-1)
            labels = F.softmax(t * self.beta, dim=-1) if self.label_softmax else t
            kl = F.kl_div(log_pt, labels, reduction="none").mean(-1)
            loss = loss + (kl * weights if self.use_target_weight else kl).sum()
        return loss / num_keypoints * self.loss_weight


class SmoothL1Loss(nn.Module):
    """Mean smooth-L1 between weighted coordinates (MMPose's ``SmoothL1Loss``)."""

    def __init__(self, use_target_weight: bool = True, beta: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.beta = beta
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.use_target_weight:
            w = weights[..., None]
            pred, target = pred * w, target * w
        return F.smooth_l1_loss(pred, target, beta=self.beta) * self.loss_weight


LOSSES: dict[str, type[nn.Module]] = {
    "mse": KeypointMSELoss,
    "kl_discret": KLDiscretLoss,
    "smooth_l1": SmoothL1Loss,
}


def build_loss(name: str, **kw: Any) -> nn.Module:
    """The loss called ``name`` (a key of ``LOSSES``) with parameters ``kw``."""
    return build_by_name("loss", LOSSES, name, kw)
