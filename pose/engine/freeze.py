"""Fine-tuning knobs of ``TrainParams`` over a model's backbone stages: ``freeze_stages`` (the stem
and the first N stages keep their pretrained weights and BatchNorm statistics, as MMPose's
``frozen_stages``), ``freeze_epochs`` (for the first epochs only, or throughout) and
``backbone_lr_mult`` (a lower lr for the pretrained backbone than for the new head).

A backbone exposes its stages with a ``stages()`` method (stem first); a model without one cannot
use these knobs and says so.
"""

from __future__ import annotations

from torch import nn

from pose.errors import ConfigError
from pose.params import TrainParams


def backbone_stages(model: nn.Module, entry: str) -> list[list[nn.Module]]:
    """The modules of ``model.backbone``'s stem and stages, in forward order."""
    stages = getattr(getattr(model, "backbone", None), "stages", None)
    if not callable(stages):
        name = type(getattr(model, "backbone", model)).__name__
        raise ConfigError(f"{name} does not list its stages, so it cannot be frozen or given its own lr", entry=entry,
                          hint="use a ResNet, CSPNeXt or EfficientNet-Lite backbone, or leave the setting at its default")
    return stages()


def backbone_parameters(model: nn.Module) -> set[int]:
    """``id``s of the parameters in the backbone's stages (the pretrained part)."""
    return {id(p) for stage in backbone_stages(model, "train.backbone_lr_mult") for m in stage for p in m.parameters()}


def frozen_modules(model: nn.Module, t: TrainParams, epoch: int) -> list[nn.Module]:
    """The modules frozen during ``epoch`` (0-based): the stem and the first ``freeze_stages``
    stages (-1: the whole backbone) while ``epoch < freeze_epochs`` (None: throughout)."""
    if t.freeze_stages == 0 or (t.freeze_epochs is not None and epoch >= t.freeze_epochs):
        return []
    stages = backbone_stages(model, "train.freeze_stages")
    count = len(stages) if t.freeze_stages < 0 else t.freeze_stages + 1
    if count > len(stages):
        raise ConfigError(f"{t.freeze_stages} stages asked, the backbone has {len(stages) - 1} after its stem",
                          entry="train.freeze_stages", hint=f"at most {len(stages) - 1}, or -1 for the whole backbone")
    return [m for stage in stages[:count] for m in stage]


def apply_freeze(model: nn.Module, t: TrainParams, epoch: int) -> None:
    """Freeze what ``epoch`` freezes and unfreeze the rest of the backbone; call after
    ``model.train()`` (frozen modules go to eval mode: BatchNorm keeps its statistics)."""
    if t.freeze_stages == 0:
        return
    frozen = frozen_modules(model, t, epoch)
    fixed = {id(p) for m in frozen for p in m.parameters()}
    for stage in backbone_stages(model, "train.freeze_stages"):
        for m in stage:
            for p in m.parameters():
                p.requires_grad_(id(p) not in fixed)
    for m in frozen:
        m.eval()
