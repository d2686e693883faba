"""Learning-rate schedule per iteration: linear warm-up, then cosine, step or constant."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ScheduleSpec:
    total_iters: int
    iters_per_epoch: int
    warmup_iters: int = 0
    warmup_ratio: float = 0.001
    kind: str = "cosine"  # cosine | step | constant
    min_lr_ratio: float = 0.0
    milestones: tuple[int, ...] = ()  # epochs, for "step"
    gamma: float = 0.1


def lr_factor(it: int, s: ScheduleSpec) -> float:
    """Multiplier of the base lr at iteration ``it`` (0-based)."""
    if s.kind == "step":
        epoch = it // max(1, s.iters_per_epoch)
        base = s.gamma ** sum(epoch >= m for m in s.milestones)
    elif s.kind == "cosine":
        t = min(1.0, it / max(1, s.total_iters))
        base = s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    elif s.kind == "constant":
        base = 1.0
    else:
        raise ValueError(f"unknown schedule {s.kind!r}")
    if it < s.warmup_iters:
        base *= s.warmup_ratio + (1 - s.warmup_ratio) * it / s.warmup_iters
    return base


def build_scheduler(optimizer: torch.optim.Optimizer, spec: ScheduleSpec) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` stepped once per iteration (its state dict resumes exactly)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, spec))
