"""Fixtures for inference tests: a tiny synthetic dataset and untrained checkpoints built here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from pose.data.synth import generate
from pose.engine.checkpoint import save_checkpoint
from pose.inference.api import PoseModel, load_pose_model

from model_files import make_pose_checkpoint


def make_detector_checkpoint(path: Path, class_names: list[str] = ["person"], size: int = 96) -> Path:  # noqa: B006
    """An untrained ``fcos-tiny`` detector saved as a training checkpoint."""
    from pose.detection.predict import checkpoint_config as det_config
    from pose.detection.presets import build_detector

    torch.manual_seed(0)
    model = build_detector("fcos-tiny", len(class_names), size)
    save_checkpoint(path, {"model": model.state_dict(), "config": det_config("fcos-tiny", size, class_names, list(range(1, len(class_names) + 1)))})
    return path


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, kind="human", images=4, seed=5, size=128, val_fraction=0.5, progress=False)
    return out


@pytest.fixture(scope="session")
def pose_ckpt(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pose_checkpoint(tmp_path_factory.mktemp("ckpt") / "rtmpose.pth", synth)


@pytest.fixture(scope="session")
def heatmap_ckpt(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pose_checkpoint(tmp_path_factory.mktemp("ckpt") / "r18.pth", synth, preset="simplebaseline-r18")


@pytest.fixture(scope="session")
def det_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_detector_checkpoint(tmp_path_factory.mktemp("ckpt") / "det.pth")


@pytest.fixture(scope="session")
def pose_model(pose_ckpt: Path) -> PoseModel:
    """The untrained rtmpose-t of ``pose_ckpt``, loaded once (tests must not modify it)."""
    return load_pose_model(pose_ckpt)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on a shared CPU run faster on one thread than fighting for two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
