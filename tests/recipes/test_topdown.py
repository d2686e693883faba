"""The pose recipe end to end on a tiny synthetic set: train, exact resume, test, reload."""

import os
import shutil
from pathlib import Path

import pytest
import torch

from pose.data.synth import generate
from pose.engine.checkpoint import load_checkpoint, save_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.params import PoseParams
from pose.recipes.topdown import model_from_checkpoint, score_checkpoint, train_pose


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, kind="human", images=10, seed=3, size=128, val_fraction=0.3, progress=False)
    return out


def params(ds: Path, **train) -> PoseParams:
    return PoseParams.model_validate({
        "dataset": str(ds),
        "model": {"preset": "rtmpose-t", "input_size": [64, 64]},
        "train": {"epochs": 2, "batch_size": 4, "workers": 0, "lr": 1e-3, "warmup_iters": 2, "deterministic": True, **train},
        "test": {"batch_size": 8},
    })


class Stop(Exception):
    pass


class KillAfterFirstEpoch:
    def on_epoch_end(self, epoch, metrics):
        raise Stop


def test_resume_gives_identical_weights(tiny: Path, tmp_path: Path) -> None:
    train_pose(params(tiny), tmp_path / "straight", device="cpu", validate=False)

    with pytest.raises(Stop):
        train_pose(params(tiny), tmp_path / "resumed", device="cpu", validate=False, callbacks=[KillAfterFirstEpoch()])
    assert load_checkpoint(tmp_path / "resumed" / "latest.pth")["epoch"] == 1
    train_pose(params(tiny), tmp_path / "resumed", device="cpu", validate=False, resume="auto")
    a = load_checkpoint(tmp_path / "straight" / "latest.pth")
    b = load_checkpoint(tmp_path / "resumed" / "latest.pth")
    assert b["epoch"] == 2
    for key in ("model", "ema"):
        for k, v in a[key].items():
            assert torch.equal(v, b[key][k]), f"{key}.{k} differs after resume"


def test_resume_if_same_resumes_only_the_same_params_and_data(tiny: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(tiny, ds)

    class Start:
        def on_train_start(self, info):
            self.epoch = info["start_epoch"]

    with pytest.raises(Stop):
        train_pose(params(ds), tmp_path / "w", device="cpu", validate=False, callbacks=[KillAfterFirstEpoch()])
    same = Start()
    train_pose(params(ds), tmp_path / "w", device="cpu", validate=False, resume="if-same", callbacks=[same])
    assert same.epoch == 1
    image = next((ds / "images").iterdir())
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    changed = Start()
    train_pose(params(ds), tmp_path / "w", device="cpu", validate=False, resume="if-same", callbacks=[changed])
    assert changed.epoch == 0
    other = Start()
    train_pose(params(ds, lr=2e-3), tmp_path / "w", device="cpu", validate=False, resume="if-same", callbacks=[other])
    assert other.epoch == 0


def test_train_validate_test_and_reload(tiny: Path, tmp_path: Path) -> None:
    summary = train_pose(params(tiny, epochs=1, deterministic=False), tmp_path, device="cpu")
    last = summary["history"][-1]
    for key in ("loss", "AP", "PCK@0.05", "EPE"):
        assert key in last
    assert (tmp_path / "best.pth").is_file()
    model, meta, cfg = model_from_checkpoint(tmp_path / "latest.pth")
    assert meta.name == "coco" and model.input_size == (64, 64) and cfg["preset"] == "rtmpose-t"
    m_flip = score_checkpoint(tmp_path / "latest.pth", device="cpu", out_dir=tmp_path / "eval")
    m_plain = score_checkpoint(tmp_path / "latest.pth", device="cpu", flip=False)
    for m in (m_flip, m_plain):
        assert 0.0 <= m["AP"] <= 1.0 and m["EPE"] > 0
    assert (tmp_path / "eval" / "keypoint_results.json").is_file()
    assert m_flip["EPE"] != m_plain["EPE"], "flip test must change predictions"


def test_bad_checkpoints(tiny: Path, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "other.pth", {"model": {"w": torch.zeros(1)}, "config": {"kind": "detector"}})
    with pytest.raises(CheckpointError, match="not a pose checkpoint"):
        model_from_checkpoint(tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="CUDA is not available") if not torch.cuda.is_available() else pytest.raises(CheckpointError):
        train_pose(params(tiny), tmp_path / "x", device="cuda")


def test_auto_input_size_is_resolved_logged_and_recorded(tiny: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pose.data.boxsize import auto_size
    from pose.data.layout import load_dataset

    p = PoseParams.model_validate({**params(tiny, epochs=1).model_dump(mode="json"), "model": {"preset": "rtmpose-t", "input_size": "auto"}})
    expected = auto_size(load_dataset(tiny, split="train")[0]).input_size
    with caplog.at_level("INFO", logger="pose"):
        train_pose(p, tmp_path, device="cpu", validate=False)
    lines = [r.getMessage() for r in caplog.records if "from median box" in r.getMessage()]
    assert lines == [f"input size {expected[0]}x{expected[1]} from median box" + lines[0].split("from median box")[1]]
    model, _, cfg = model_from_checkpoint(tmp_path / "latest.pth")
    assert model.input_size == expected and cfg["input_size"] == list(expected) and cfg["params"]["model"]["input_size"] == list(expected)


def test_auto_input_size_cannot_build_a_model_unresolved(tiny: Path) -> None:
    from pose.data.meta import load_meta
    from pose.recipes.topdown import build_pose_model

    p = PoseParams.model_validate({"dataset": str(tiny), "model": {"preset": "rtmpose-t", "input_size": "auto"}})
    with pytest.raises(ConfigError, match="resolved from the training data"):
        build_pose_model(p, load_meta("coco"))
