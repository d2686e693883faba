"""Untrained models saved exactly as training saves them, for tests that need a checkpoint file."""

from __future__ import annotations

from pathlib import Path

import torch

from pose.data.layout import load_dataset
from pose.engine.checkpoint import save_checkpoint
from pose.params import PoseParams
from pose.recipes.topdown import build_pose_model, checkpoint_config


def make_pose_checkpoint(path: Path, dataset: Path, preset: str = "rtmpose-t", size: tuple[int, int] = (64, 64)) -> Path:
    """An untrained pose model for ``dataset``'s meta, saved as a training checkpoint."""
    params = PoseParams.model_validate({"dataset": str(dataset), "model": {"preset": preset, "input_size": list(size)}})
    _, meta = load_dataset(params.dataset, split="val")
    torch.manual_seed(0)
    model = build_pose_model(params, meta)
    save_checkpoint(path, {"model": model.state_dict(), "config": checkpoint_config(params, meta, model), "epoch": 0})
    return path
