"""Where and how a run computes: the device, AMP mode, data-loader workers and seeds.

Shared by training and inference (``resolve_device``); ``device_info`` is what a run records.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from pose.engine import distributed as dist
from pose.errors import ConfigError


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


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a resolved AMP mode (None: full precision)."""
    if amp == "none":
        return None
    if amp == "fp16":
        if device.type != "cuda":
            raise ConfigError("fp16 AMP needs CUDA", entry="train.amp", hint="use bf16 on CPU, or none")
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    raise ConfigError(f"unknown amp mode '{amp}'", entry="train.amp", hint="none, fp16 or bf16")


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
    """Seed Python, NumPy and torch; ``deterministic`` also asks torch/cuDNN for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
