"""Learning-rate schedule per iteration: linear warm-up, then cosine, step or constant (``TrainParams``)."""

from __future__ import annotations

import math

import torch

from pose.params import TrainParams


def lr_factor(it: int, t: TrainParams, iters_per_epoch: int) -> float:
    """Multiplier of the base lr at iteration ``it`` (0-based) of a run of ``t.epochs * iters_per_epoch``."""
    if t.schedule == "step":
        epoch = it // max(1, iters_per_epoch)
        base = t.gamma ** sum(epoch >= m for m in t.milestones)
    elif t.schedule == "cosine":
        progress = min(1.0, it / max(1, t.epochs * iters_per_epoch))
        base = t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    elif t.schedule == "constant":
        base = 1.0
    else:
        raise ValueError(f"unknown schedule {t.schedule!r}")
    if it < t.warmup_iters:
        base *= t.warmup_ratio + (1 - t.warmup_ratio) * it / t.warmup_iters
    return base


def build_scheduler(optimizer: torch.optim.Optimizer, t: TrainParams, iters_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per iteration (its state dict resumes exactly)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, t, iters_per_epoch))
