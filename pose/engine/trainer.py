"""The training loop, shared by pose models and detectors, readable top to bottom.

``fit`` runs epochs of ``train_one_epoch`` and ``Task.evaluate``; it owns AMP, EMA, gradient
clipping, the lr schedule, full-state checkpoints (``latest.pth`` each epoch, ``best.pth`` by the
task's metric), exact resume and callbacks. What is specific to a model family (how a batch
becomes losses, how a model is scored) lives in the ``Task``.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from pose.engine import distributed as dist
from pose.engine.checkpoint import (BEST, LATEST, load_checkpoint, load_weights, model_state, remove_stale_temps, rng_state,
                                     save_checkpoint, set_rng_state)
from pose.engine.schedule import ScheduleSpec, build_scheduler
from pose.errors import CheckpointError, ConfigError, PoseError


class TrainingError(PoseError):
    """Training cannot go on (e.g. a non-finite loss)."""


@dataclass(frozen=True)
class OptimSettings:
    epochs: int
    lr: float
    optimizer: str = "adamw"
    weight_decay: float = 0.05
    warmup_iters: int = 0
    warmup_ratio: float = 0.001
    schedule: str = "cosine"
    min_lr_ratio: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    amp: str = "none"  # none | fp16 | bf16 | auto (resolve_amp)
    ema: bool = False
    ema_decay: float = 0.999
    clip_grad: float | None = None
    val_interval: int = 1
    channels_last: bool = False


def optim_settings(t: Any, world: int = 1) -> OptimSettings:
    """``OptimSettings`` from a ``train:`` params block (``pose.config.TrainParams``); with
    ``autoscale_lr`` the lr scales by total batch (``batch_size * world``) / ``base_batch_size``."""
    lr = t.lr * (t.batch_size * world / t.base_batch_size) if t.autoscale_lr else t.lr
    return OptimSettings(epochs=t.epochs, lr=lr, optimizer=t.optimizer, weight_decay=t.weight_decay, warmup_iters=t.warmup_iters,
                         warmup_ratio=t.warmup_ratio, schedule=t.schedule, min_lr_ratio=t.min_lr_ratio, milestones=tuple(t.milestones),
                         gamma=t.gamma, amp=t.amp, ema=t.ema, ema_decay=t.ema_decay, clip_grad=t.clip_grad,
                         val_interval=t.val_interval, channels_last=t.channels_last)


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


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is an error, never a silent CPU run."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked but CUDA is not available", entry="--device", hint="use --device cpu or auto")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ConfigError(f"unknown device '{device}'", entry="--device", hint="cpu, cuda, cuda:N or auto")
    return torch.device(device)


def cpu_count() -> int:
    """Cores this process may run on (its affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | str, device: torch.device) -> int:
    """``auto``: on CPU the cores torch's threads leave free, so loader processes never compete
    with the compute threads (on 2 cores a single worker made epochs 11-26 % slower than none:
    ``benchmarks/bench_epoch.py``); on CUDA up to 8, one core kept for the main process."""
    if workers != "auto":
        return int(workers)
    cores = cpu_count()
    if device.type == "cuda":
        return max(0, min(8, cores - 1))
    return max(0, min(8, cores - torch.get_num_threads()))


def resolve_amp(amp: str, device: torch.device) -> str:
    """``auto``: bf16 where the hardware computes it natively (CUDA sm80+, CPUs with AVX512-BF16
    or AMX, where the train step runs 1.3-2.5x faster than fp32: ``benchmarks/bench_train_step.py``),
    else none; other modes pass through."""
    if amp != "auto":
        return amp
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "none"
    return "bf16" if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "none"


def device_info(device: torch.device, amp: str, seed: int, workers: int) -> dict[str, Any]:
    """What a run records at start: device, CUDA/cuDNN, AMP, seed, workers, threads."""
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "amp": amp,
        "seed": seed,
        "workers": workers,
        "threads": torch.get_num_threads(),
        "world_size": dist.world_size(),
    }
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return info


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "none":
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("fp16 AMP needs CUDA", entry="train.amp", hint="use bf16 on CPU, or none")
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    raise ConfigError(f"unknown amp mode '{amp}'", entry="train.amp", hint="none, fp16 or bf16")


def build_optimizer(model: torch.nn.Module, s: OptimSettings) -> torch.optim.Optimizer:
    """AdamW/Adam; no weight decay on norms and biases (1-D parameters)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel per group (torch defaults to a loop over tensors on CPU; steps 1.8x cheaper there)
    if s.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=s.lr, fused=True)
    if s.optimizer == "adam":
        return torch.optim.Adam(groups, lr=s.lr, fused=True)
    raise ConfigError(f"unknown optimizer '{s.optimizer}'", entry="train.optimizer", hint="adamw or adam")


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


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def train_one_epoch(
    task: Task,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    ema: AveragedModel | None,
    s: OptimSettings,
    device: torch.device,
    epoch: int,
    progress: Any,
) -> dict[str, float]:
    """One pass over the training batches; stops on a non-finite loss naming epoch and iteration."""
    model.train()
    dtype = _amp_dtype(s.amp, device)
    sums: dict[str, float] = {}
    n = 0
    wait = 0.0
    t_end = time.perf_counter()
    for i, batch in enumerate(task.loaders(epoch)):
        wait += time.perf_counter() - t_end
        batch = _to_device(batch, device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            losses = task.loss(model, batch)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            parts = ", ".join(f"{k}={v.item():.4g}" for k, v in losses.items())
            raise TrainingError(f"non-finite loss at epoch {epoch + 1}, iteration {i + 1} ({parts})", hint="lower the lr, enable clip_grad, or check the data with `pose data validate`")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        if s.clip_grad:
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip_grad)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        n += 1
        if progress is not None:
            progress(i + 1, sums["loss"] / n, optimizer.param_groups[0]["lr"])
        t_end = time.perf_counter()
    out = {k: v / max(1, n) for k, v in sums.items()}
    out["lr"] = optimizer.param_groups[0]["lr"]
    out["data_wait_s"] = wait
    return out


def fit(
    task: Task,
    s: OptimSettings,
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
    """Train ``task.model``; returns a summary (best metric, epochs run, paths)."""
    from rich.console import Console

    callbacks = callbacks or []
    console = console or Console(stderr=True)
    s = replace(s, amp=resolve_amp(s.amp, device))
    work_dir = Path(work_dir)
    is_main = dist.is_main()
    if is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(work_dir)
    model = task.model.to(device)
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if load_from:
        state = load_checkpoint(load_from)
        report = load_weights(model, model_state(state, load_from))
        if is_main:
            console.print(f"loaded weights from {load_from}" + ("" if report.clean else ": " + "; ".join(report.lines())))
    train_model = dist.wrap_ddp(model, device)
    optimizer = build_optimizer(model, s)
    spec = ScheduleSpec(
        total_iters=s.epochs * task.iters_per_epoch, iters_per_epoch=task.iters_per_epoch, warmup_iters=s.warmup_iters,
        warmup_ratio=s.warmup_ratio, kind=s.schedule, min_lr_ratio=s.min_lr_ratio, milestones=s.milestones, gamma=s.gamma,
    )
    scheduler = build_scheduler(optimizer, spec)
    scaler = torch.amp.GradScaler("cuda") if s.amp == "fp16" else None
    ema = AveragedModel(model, multi_avg_fn=ema_update(s.ema_decay), use_buffers=True) if s.ema else None

    start_epoch, best, history = 0, -math.inf, []
    ckpt_path, state = _resume_state(resume, work_dir, task.config, device, console)
    if ckpt_path is not None:
        for key in ("model", "optimizer", "scheduler", "epoch"):
            if key not in state:
                raise CheckpointError(f"cannot resume: no '{key}' in checkpoint (a published model?)", file=ckpt_path, hint="use --load-from for weights only")
        report = load_weights(model, state["model"])
        if not report.clean:
            raise CheckpointError("cannot resume: checkpoint does not match the model (" + "; ".join(report.lines()) + ")", file=ckpt_path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema_state"):
            ema.load_state_dict(state["ema_state"])
        start_epoch = int(state["epoch"])
        best = float(state.get("best", -math.inf))
        history = list(state.get("history", []))
        if "rng" in state:
            set_rng_state(state["rng"])
        if is_main:
            console.print(f"resumed from {ckpt_path} at epoch {start_epoch}")

    info = device_info(device, s.amp, seed, resolve_workers(workers, device))
    if is_main:
        console.print("device " + ", ".join(f"{k}={v}" for k, v in info.items()))
        _call(callbacks, "on_train_start", {**info, "config": task.config, "start_epoch": start_epoch})

    progress_cm = _progress(console, show_progress and is_main)
    with progress_cm as prog:
        bar = prog.add_task("train", total=(s.epochs - start_epoch) * task.iters_per_epoch) if prog else None
        for epoch in range(start_epoch, s.epochs):

            def on_iter(i: int, loss: float, lr: float, epoch: int = epoch) -> None:
                if prog is not None:
                    prog.update(bar, advance=1, description=f"epoch {epoch + 1}/{s.epochs} loss {loss:.4g} lr {lr:.2e}")

            metrics = train_one_epoch(task, train_model, optimizer, scheduler, scaler, ema, s, device, epoch, on_iter)
            eval_model = ema.module if ema is not None else model
            if validate and task.evaluate is not None and ((epoch + 1) % s.val_interval == 0 or epoch + 1 == s.epochs):
                metrics.update(task.evaluate(eval_model))
            metrics["epoch"] = epoch + 1
            history.append(metrics)
            if is_main:
                improved = task.best_metric in metrics and metrics[task.best_metric] > best
                if improved:
                    best = metrics[task.best_metric]
                state = {
                    "model": model.state_dict(),
                    "ema": ema.module.state_dict() if ema is not None else None,
                    "ema_state": ema.state_dict() if ema is not None else None,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else None,
                    "epoch": epoch + 1,
                    "best": best,
                    "history": history,
                    "config": task.config,
                    "rng": rng_state(),
                }
                save_checkpoint(work_dir / LATEST, state)
                _call(callbacks, "on_checkpoint", work_dir / LATEST, "latest")
                if improved:
                    save_checkpoint(work_dir / BEST, state)
                    _call(callbacks, "on_checkpoint", work_dir / BEST, "best")
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch" and isinstance(v, float))
                console.print(f"epoch {epoch + 1}/{s.epochs}: {shown}")
                _call(callbacks, "on_epoch_end", epoch + 1, metrics)
            dist.barrier()
    summary = {"epochs": s.epochs, "best": best if best > -math.inf else None, "best_metric": task.best_metric,
               "history": history, "work_dir": str(work_dir), **info}
    if is_main:
        _call(callbacks, "on_train_end", summary)
    return summary


def _resume_state(resume: str | None, work_dir: Path, config: dict[str, Any], device: torch.device,
                  console: Any) -> tuple[Path | None, dict[str, Any]]:
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
            console.print(f"not resuming {p}: it was trained with other params or data; starting afresh")
        return None, {}
    return p, state


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
