"""The optimiser and the EMA of a run, built from the ``train:`` params block (``TrainParams``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from pose.engine.freeze import backbone_parameters, frozen_modules
from pose.errors import ConfigError
from pose.params import TrainParams


def scaled_lr(t: TrainParams, world: int = 1) -> float:
    """The lr a run uses: with ``autoscale_lr`` scaled by the total batch (``batch_size * world``)
    over ``base_batch_size``, else ``t.lr``."""
    return t.lr * (t.batch_size * world / t.base_batch_size) if t.autoscale_lr else t.lr


def param_groups(model: torch.nn.Module, t: TrainParams) -> list[dict[str, Any]]:
    """No weight decay on norms and biases (1-D parameters); the backbone's stages at
    ``backbone_lr_mult`` times the lr. Parameters frozen by ``freeze_stages`` are in the groups
    too (without a gradient the optimiser skips them), so unfreezing needs no new optimiser."""
    frozen = {id(p) for m in frozen_modules(model, t, 0) for p in m.parameters()}
    backbone = backbone_parameters(model) if t.backbone_lr_mult != 1.0 else set()
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for p in model.parameters():
        if p.requires_grad or id(p) in frozen:
            groups.setdefault((id(p) in backbone, p.ndim <= 1), []).append(p)
    return [{"params": ps, "weight_decay": 0.0 if flat else t.weight_decay, "lr": t.lr * (t.backbone_lr_mult if bb else 1.0)}
            for (bb, flat), ps in sorted(groups.items())]


def build_optimizer(model: torch.nn.Module, t: TrainParams) -> torch.optim.Optimizer:
    """AdamW/Adam at ``t.lr`` over :func:`param_groups`."""
    groups = param_groups(model, t)
    # fused: one kernel per group (torch defaults to a loop over tensors on CPU; steps 1.8x cheaper there)
    if t.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=t.lr, fused=True)
    if t.optimizer == "adam":
        return torch.optim.Adam(groups, lr=t.lr, fused=True)
    raise ConfigError(f"unknown optimizer '{t.optimizer}'", entry="train.optimizer", hint="adamw or adam")


def ema_update(decay: float) -> Callable[..., None]:
    """EMA with warm-up: the decay ramps as ``(1 + n) / (10 + n)`` up to ``decay``.

    A fixed 0.999 on a run of a few hundred iterations would leave the EMA weights mostly at
    their random initialisation; the ramp makes EMA useful on short CPU runs too.
    """

    @torch.no_grad()
    def update(ema_params: list[torch.Tensor], params: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        d = min(decay, (1.0 + n) / (10.0 + n))
        floats = [(e, p.detach()) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [p for _, p in floats], 1.0 - d)
        for e, p in zip(ema_params, params):
            if not e.is_floating_point():
                e.copy_(p)

    return update
