"""The ``train:`` block of ``params/pose.yaml`` and ``params/detector.yaml``: what ``pose.engine``
takes as is (a new optimisation knob is one field here plus the line of the engine that reads it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pose.params.base import Strict


class TrainParams(Strict):
    """Optimisation and loop settings shared by pose and detector training."""

    epochs: int = Field(30, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=4096)
    workers: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        "auto", description="data-loader processes; auto = the cores torch's threads leave free on CPU (0 on 2 cores), up to 8 on CUDA")
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = Field(4e-3, gt=0, le=10)
    weight_decay: float = Field(0.05, ge=0)
    warmup_iters: int = Field(100, ge=0)
    warmup_ratio: float = Field(0.001, gt=0, le=1)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    milestones: list[int] = Field(default_factory=list, description="epochs, for schedule=step")
    gamma: float = Field(0.1, gt=0, le=1)
    amp: Literal["none", "fp16", "bf16", "auto"] = Field(
        "none", description="auto = bf16 where the hardware has it natively (CUDA sm80+, CPUs with AVX512-BF16/AMX), else none")
    ema: bool = True
    ema_decay: float = Field(0.999, gt=0, lt=1)
    clip_grad: float | None = Field(None, gt=0)
    val_interval: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)
    deterministic: bool = False
    autoscale_lr: bool = False
    base_batch_size: int = Field(32, ge=1, description="batch size that lr is tuned for (autoscale_lr)")
    channels_last: bool = Field(True, description="NHWC weights and activations: rtmpose-t trains 1.3x faster on CPU")
    freeze_stages: int = Field(0, ge=-1, le=8, description="backbone stem + first N stages frozen (weights and BatchNorm statistics); -1 the whole backbone")
    freeze_epochs: int | None = Field(None, ge=1, description="unfreeze after this many epochs (None: frozen throughout)")
    compile: bool = Field(False, description="torch.compile the training model: faster steps after a compile of a minute or more; pays on long runs")
    backbone_lr_mult: float = Field(1.0, gt=0, le=10, description="the backbone's lr relative to train.lr (e.g. 0.1 for a pretrained backbone)")
    init: Literal["configured", "champion"] = Field(
        "configured", description="configured = the model's pretrained/--load-from init; champion = start from the registry's champion "
        "of this dataset when it fits (same keypoints or classes, same preset), else the configured init with a warning")
    finetune_epochs: int | None = Field(None, ge=1, le=10_000, description="epochs of a run warm-started from the champion; None = epochs")
