"""What a training run steps, checkpoints and resumes.

``Run`` holds the objects one run updates (model, optimiser, lr schedule, AMP scaler, EMA);
``checkpoint_state`` is the full-state dict written as ``latest.pth`` / ``best.pth``;
``find_resume`` picks the checkpoint to resume (``auto`` / ``if-same`` / a path) and ``restore``
loads it back, refusing files that cannot resume this very model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from pose.engine import distributed as dist
from pose.engine.checkpoint import LATEST, load_checkpoint, load_weights, rng_state, set_rng_state
from pose.errors import CheckpointError

log = logging.getLogger(__name__)

#: What a checkpoint must hold to resume a run (a published model has weights only).
RESUME_KEYS = ("model", "optimizer", "scheduler", "epoch")


@dataclass
class Run:
    """The objects one training run updates; ``train_model`` is ``model`` (DDP-wrapped under torchrun)."""

    model: torch.nn.Module
    train_model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None = None
    ema: AveragedModel | None = None

    @property
    def eval_model(self) -> torch.nn.Module:
        """What validation scores: the EMA weights when enabled."""
        return self.ema.module if self.ema is not None else self.model


@dataclass
class Record:
    """Where a run stands: the first epoch to train, the best metric so far, per-epoch metrics."""

    start_epoch: int = 0
    best: float = -math.inf
    history: list[dict[str, float]] = field(default_factory=list)


def checkpoint_state(run: Run, epoch: int, record: Record, config: dict[str, Any]) -> dict[str, Any]:
    """The full state after ``epoch`` epochs: enough to resume bit for bit (RNG states included)."""
    ema = run.ema
    return {
        "model": run.model.state_dict(),
        "ema": ema.module.state_dict() if ema is not None else None,
        "ema_state": ema.state_dict() if ema is not None else None,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        "epoch": epoch,
        "best": record.best,
        "history": record.history,
        "config": config,
        "rng": rng_state(),
    }


def find_resume(resume: str | None, work_dir: Path, config: dict[str, Any],
                device: torch.device) -> tuple[Path | None, dict[str, Any]]:
    """The checkpoint to resume and its state: ``auto`` = latest.pth when present; ``if-same`` =
    latest.pth only when it was written by a run with this very config (params, meta, data
    fingerprint), else a fresh start: what a retried pipeline stage needs, where a params or data
    change must not resume."""
    if not resume:
        return None, {}
    p = Path(resume) if resume not in ("auto", "if-same") else work_dir / LATEST
    if resume in ("auto", "if-same") and not p.is_file():
        return None, {}
    state = load_checkpoint(p, map_location=device)
    if resume == "if-same" and state.get("config") != config:
        if dist.is_main():
            log.info("not resuming %s: it was trained with other params or data; starting afresh", p)
        return None, {}
    return p, state


def restore(run: Run, path: Path, state: dict[str, Any]) -> Record:
    """Load a checkpoint's full state into ``run`` (RNG states too); returns where the run stands."""
    for key in RESUME_KEYS:
        if key not in state:
            raise CheckpointError(f"cannot resume: no '{key}' in checkpoint (a published model?)", file=path, hint="use --load-from for weights only")
    report = load_weights(run.model, state["model"])
    if not report.clean:
        raise CheckpointError("cannot resume: checkpoint does not match the model (" + "; ".join(report.lines()) + ")", file=path)
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.scaler is not None and state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    if run.ema is not None and state.get("ema_state"):
        run.ema.load_state_dict(state["ema_state"])
    record = Record(int(state["epoch"]), float(state.get("best", -math.inf)), list(state.get("history", [])))
    if "rng" in state:
        set_rng_state(state["rng"])
    return record
