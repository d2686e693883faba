"""The training loop, shared by pose models and detectors, readable top to bottom.

As torchvision's ``references/``: ``fit`` builds the run (``build_run``), resumes it when asked
(``pose.engine.state``), then runs epochs of ``train_one_epoch`` and ``evaluate`` and writes
full-state checkpoints (``latest.pth`` each epoch, ``best.pth`` by the task's metric) with
callbacks around them. It takes the ``train:`` params block (``TrainParams``) as is. What is
specific to a model family (how a batch becomes losses, how a model is scored) lives in the ``Task``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.optim.swa_utils import AveragedModel

from pose.engine import distributed as dist
from pose.engine.checkpoint import BEST, LATEST, load_checkpoint, load_weights, model_state, remove_stale_temps, save_checkpoint
from pose.engine.freeze import apply_freeze
from pose.engine.optim import build_optimizer, ema_update, scaled_lr
from pose.engine.runtime import amp_dtype, device_info, resolve_amp, resolve_workers
from pose.engine.schedule import build_scheduler
from pose.engine.state import Record, Run, checkpoint_state, find_resume, restore
from pose.errors import ConfigError, PoseError
from pose.params import TrainParams

log = logging.getLogger(__name__)


class TrainingError(PoseError):
    """Training cannot go on (e.g. a non-finite loss)."""


@dataclass
class Task:
    """What ``fit`` needs from a model family.

    ``loss(model, batch)`` returns named scalar losses for a batch already on the device;
    ``evaluate(model)`` scores a model (the EMA model when enabled) and returns metrics, of which
    ``best_metric`` (higher is better) picks ``best.pth``; ``loaders(epoch)`` returns the
    training batches for one epoch (re-seeded per epoch so a resumed run sees the same order).
    """

    model: torch.nn.Module
    loss: Callable[[torch.nn.Module, dict[str, Any]], dict[str, torch.Tensor]]
    loaders: Callable[[int], Iterable[dict[str, Any]]]
    iters_per_epoch: int
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None
    best_metric: str = "AP"
    config: dict[str, Any] = field(default_factory=dict)


class Callback(Protocol):
    """Hooks the tracking layer (MLflow) plugs into; every method is optional."""

    def on_train_start(self, info: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None: ...
    def on_checkpoint(self, path: Path, kind: str) -> None: ...
    def on_train_end(self, summary: dict[str, Any]) -> None: ...


def _call(callbacks: list[Any], name: str, *args: Any) -> None:
    for cb in callbacks:
        fn = getattr(cb, name, None)
        if fn is not None:
            fn(*args)


def build_run(task: Task, t: TrainParams, device: torch.device, load_from: str | None) -> Run:
    """The model on ``device`` (weights from ``load_from`` if given), its optimiser, lr schedule,
    AMP scaler (fp16) and EMA."""
    model = task.model.to(device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if load_from:
        report = load_weights(model, model_state(load_checkpoint(load_from), load_from))
        if dist.is_main():
            log.info("loaded weights from %s%s", load_from, "" if report.clean else ": " + "; ".join(report.lines()))
    if t.freeze_stages and t.freeze_epochs is not None and dist.world_size() > 1:
        raise ConfigError("unfreezing mid-run (train.freeze_epochs) is not supported under torchrun", entry="train.freeze_epochs",
                          hint="freeze throughout (freeze_epochs: null) or train on one process")
    apply_freeze(model, t, 0)  # before DDP registers its gradient hooks
    train_model = dist.wrap_ddp(model, device)
    if t.compile:
        train_model = torch.compile(train_model)  # steps only; checkpoints and EMA read the plain ``model``
    optimizer = build_optimizer(model, t)
    scheduler = build_scheduler(optimizer, t, task.iters_per_epoch)
    scaler = torch.amp.GradScaler("cuda") if t.amp == "fp16" else None
    ema = AveragedModel(model, multi_avg_fn=ema_update(t.ema_decay), use_buffers=True) if t.ema else None
    return Run(model, train_model, optimizer, scheduler, scaler, ema)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _step(run: Run, loss: torch.Tensor, clip_grad: float | None) -> None:
    """Backward (scaled under fp16), optional gradient clipping, optimiser and lr step, EMA update."""
    run.optimizer.zero_grad(set_to_none=True)
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.optimizer)
    else:
        loss.backward()
    if clip_grad:
        torch.nn.utils.clip_grad_norm_(run.train_model.parameters(), clip_grad)
    if run.scaler is not None:
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        run.optimizer.step()
    run.scheduler.step()
    if run.ema is not None:
        run.ema.update_parameters(run.train_model)


def train_one_epoch(task: Task, run: Run, t: TrainParams, device: torch.device, epoch: int,
                    progress: Callable[[int, float, float], None] | None = None) -> dict[str, float]:
    """One pass over the training batches; mean losses, the last lr and the time spent waiting for
    data. Stops on a non-finite loss naming epoch and iteration."""
    run.train_model.train()
    apply_freeze(run.model, t, epoch)
    dtype = amp_dtype(t.amp, device)
    sums: dict[str, float] = {}
    n, wait = 0, 0.0
    t_end = time.perf_counter()
    for i, batch in enumerate(task.loaders(epoch)):
        wait += time.perf_counter() - t_end
        batch = _to_device(batch, device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            losses = task.loss(run.train_model, batch)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            parts = ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
            raise TrainingError(f"non-finite loss at epoch {epoch + 1}, iteration {i + 1} ({parts})", hint="lower the lr, enable clip_grad, or check the data with `pose data validate`")
        _step(run, loss, t.clip_grad)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        n += 1
        if progress is not None:
            progress(i + 1, sums["loss"] / n, run.optimizer.param_groups[0]["lr"])
        t_end = time.perf_counter()
    out = {k: v / max(1, n) for k, v in sums.items()}
    out["lr"] = run.optimizer.param_groups[0]["lr"]
    out["data_wait_s"] = wait
    return out


def evaluate(task: Task, run: Run, t: TrainParams, epoch: int) -> dict[str, float]:
    """The task's metrics of the EMA model (else the model) after ``epoch`` when it is a validation
    epoch (every ``val_interval`` epochs, and the last); else nothing."""
    if task.evaluate is None or not ((epoch + 1) % t.val_interval == 0 or epoch + 1 == t.epochs):
        return {}
    return task.evaluate(run.eval_model)


def save_epoch(work_dir: Path, task: Task, run: Run, record: Record, callbacks: list[Any]) -> None:
    """After an epoch (the last in ``record.history``): ``latest.pth``, and ``best.pth`` when the
    task's metric improved on ``record.best``."""
    metrics = record.history[-1]
    improved = task.best_metric in metrics and metrics[task.best_metric] > record.best
    if improved:
        record.best = metrics[task.best_metric]
    state = checkpoint_state(run, int(metrics["epoch"]), record, task.config)
    save_checkpoint(work_dir / LATEST, state)
    _call(callbacks, "on_checkpoint", work_dir / LATEST, "latest")
    if improved:
        save_checkpoint(work_dir / BEST, state)
        _call(callbacks, "on_checkpoint", work_dir / BEST, "best")


def _resume(run: Run, resume: str | None, work_dir: Path, config: dict[str, Any], device: torch.device) -> Record:
    """Restore ``run`` from the checkpoint ``resume`` asks for, if any; where the run stands."""
    path, state = find_resume(resume, work_dir, config, device)
    if path is None:
        return Record()
    record = restore(run, path, state)
    if dist.is_main():
        log.info("resumed from %s at epoch %d", path, record.start_epoch)
    return record


def fit(
    task: Task,
    t: TrainParams,
    *,
    work_dir: str | Path,
    device: torch.device,
    seed: int = 0,
    workers: int | str = 0,
    resume: str | None = None,
    load_from: str | None = None,
    validate: bool = True,
    callbacks: list[Any] | None = None,
    console: Any = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train ``task.model`` as ``t`` says; returns a summary (best metric, epochs run, paths).
    ``seed`` and ``workers`` are recorded with the device (the caller seeded and built the loaders)."""
    from rich.console import Console

    callbacks, console = callbacks or [], console or Console(stderr=True)
    t = t.model_copy(update={"amp": resolve_amp(t.amp, device), "lr": scaled_lr(t, dist.world_size())})
    work_dir, is_main = Path(work_dir), dist.is_main()
    if is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(work_dir)
    run = build_run(task, t, device, load_from)
    record = _resume(run, resume, work_dir, task.config, device)
    info = device_info(device, t.amp, seed, resolve_workers(workers, device))
    if is_main:
        log.info("device %s", ", ".join(f"{k}={v}" for k, v in info.items()))
        _call(callbacks, "on_train_start", {**info, "config": task.config, "start_epoch": record.start_epoch})
    with _progress(console, show_progress and is_main and log.isEnabledFor(logging.INFO)) as prog:
        bar = prog.add_task("train", total=(t.epochs - record.start_epoch) * task.iters_per_epoch) if prog else None
        for epoch in range(record.start_epoch, t.epochs):
            metrics = train_one_epoch(task, run, t, device, epoch, _on_iter(prog, bar, epoch, t.epochs))
            if validate:
                metrics.update(evaluate(task, run, t, epoch))
            metrics["epoch"] = epoch + 1
            record.history.append(metrics)
            if is_main:
                save_epoch(work_dir, task, run, record, callbacks)
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch" and isinstance(v, float))
                log.info("epoch %d/%d: %s", epoch + 1, t.epochs, shown)
                _call(callbacks, "on_epoch_end", epoch + 1, metrics)
            dist.barrier()
    best = record.best
    summary = {"epochs": t.epochs, "best": best if best > -math.inf else None, "best_metric": task.best_metric,
               "history": record.history, "work_dir": str(work_dir), **info}
    if is_main:
        _call(callbacks, "on_train_end", summary)
    return summary


def _on_iter(prog: Any, bar: Any, epoch: int, epochs: int) -> Callable[[int, float, float], None] | None:
    """The progress bar's per-iteration update (None without a bar)."""
    if prog is None:
        return None

    def update(i: int, loss: float, lr: float) -> None:
        prog.update(bar, advance=1, description=f"epoch {epoch + 1}/{epochs} loss {loss:.4g} lr {lr:.2e}")

    return update


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(console: Any, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
