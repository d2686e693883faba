"""Data loaders whose order and worker seeds depend only on (seed, epoch), so resumes see the same data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pose.engine import distributed as dist


def make_loader(dataset: Dataset[Any], *, batch_size: int, workers: int, shuffle: bool, seed: int, epoch: int = 0,
                drop_last: bool = False, collate_fn: Callable[[list[Any]], Any] | None = None) -> DataLoader:
    """A ``DataLoader`` re-seeded per epoch; a ``DistributedSampler`` shards it under torchrun."""
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    sampler = None
    if dist.is_dist():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
        sampler.set_epoch(epoch)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=workers, generator=g, drop_last=drop_last, collate_fn=collate_fn,
                      persistent_workers=False, pin_memory=torch.cuda.is_available())
