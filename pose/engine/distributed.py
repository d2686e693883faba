"""torchrun / DDP: process-group set-up from the environment, rank helpers, the DDP wrapper.

Under ``torchrun --nproc-per-node N`` each process trains on its shard (DistributedSampler);
rank 0 alone logs and writes checkpoints. gloo on CPU, NCCL on GPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as td

from pose.errors import ConfigError


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device_type: str) -> None:
    """Join the process group torchrun prepared (no-op when already joined)."""
    if td.is_initialized():
        return
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank())
    td.init_process_group(backend=backend)


def shutdown() -> None:
    if td.is_initialized():
        td.destroy_process_group()


def is_dist() -> bool:
    return td.is_available() and td.is_initialized()


def world_size() -> int:
    return td.get_world_size() if is_dist() else 1


def rank() -> int:
    return td.get_rank() if is_dist() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_dist():
        td.barrier()


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if not is_dist():
        return model
    ids = [device.index if device.index is not None else local_rank()] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_mean(value: float, device: torch.device) -> float:
    if not is_dist():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    td.all_reduce(t)
    return float(t.item()) / world_size()


@contextlib.contextmanager
def launch(launcher: str, device: torch.device) -> Iterator[torch.device]:
    """``--launcher none|torchrun`` for a training run: join torchrun's process group (and take
    this rank's GPU) for the run's duration; yields the device the run uses."""
    if launcher == "none":
        yield device
        return
    if launcher != "torchrun":
        raise ConfigError(f"unknown launcher '{launcher}'", entry="--launcher", hint="none or torchrun")
    if not launched_by_torchrun():
        raise ConfigError("--launcher torchrun needs to run under torchrun", entry="--launcher",
                          hint="torchrun --nproc-per-node N -m pose.cli train ...")
    init(device.type)
    try:
        yield torch.device("cuda", local_rank()) if device.type == "cuda" else device
    finally:
        shutdown()
