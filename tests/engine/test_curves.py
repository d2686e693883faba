"""Training curves as DVC plot files: one row per epoch from a real ``fit``, exact across a resume."""

from pathlib import Path

import pytest
import torch

from pose.engine.checkpoint import load_checkpoint
from pose.engine.curves import TRAIN, VAL, CurveFiles, read_rows
from pose.engine.runtime import seed_everything
from pose.engine.trainer import Task, fit
from pose.params import TrainParams

X = torch.randn(48, 3, generator=torch.Generator().manual_seed(2))
Y = X @ torch.tensor([1.0, -1.0, 2.0])
S = TrainParams(epochs=4, lr=0.02, warmup_iters=1, min_lr_ratio=0.0, ema=False, channels_last=False)
CPU = torch.device("cpu")


def _task() -> Task:
    seed_everything(0, deterministic=True)
    model = torch.nn.Linear(3, 1)

    def loaders(epoch: int):
        perm = torch.randperm(48, generator=torch.Generator().manual_seed(epoch))
        return [{"x": X[perm[i:i + 16]], "y": Y[perm[i:i + 16]]} for i in range(0, 48, 16)]

    def loss(m, b):
        return {"mse": ((m(b["x"]).squeeze(1) - b["y"]) ** 2).mean()}

    def evaluate(m):
        with torch.no_grad():
            return {"neg_mse": -((m(X).squeeze(1) - Y) ** 2).mean().item()}

    return Task(model=model, loss=loss, loaders=loaders, iters_per_epoch=3, evaluate=evaluate, best_metric="neg_mse", config={"lr": 0.02})


class _Stop(Exception):
    pass


class _KillAfter:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch, metrics):
        if epoch == self.epoch:
            raise _Stop


def _fit(work: Path, *extra, resume=None) -> None:
    fit(_task(), S, work_dir=work, device=CPU, resume=resume, callbacks=[CurveFiles(work, ["neg_mse"]), *extra], show_progress=False)


def test_one_row_per_epoch_matching_the_history(tmp_path: Path) -> None:
    _fit(tmp_path)
    train, val = read_rows(tmp_path / TRAIN), read_rows(tmp_path / VAL)
    history = load_checkpoint(tmp_path / "latest.pth")["history"]
    assert [r["epoch"] for r in train] == [r["epoch"] for r in val] == ["1", "2", "3", "4"]
    assert list(train[0]) == ["epoch", "loss", "lr", "mse"], "no wall-clock columns, loss first"
    assert list(val[0]) == ["epoch", "neg_mse"]
    for row, h in zip(train, history):
        assert float(row["loss"]) == pytest.approx(h["loss"], rel=1e-5) and float(row["lr"]) == pytest.approx(h["lr"], rel=1e-5)
    assert float(val[-1]["neg_mse"]) == pytest.approx(history[-1]["neg_mse"], rel=1e-5)
    assert float(train[-1]["loss"]) < float(train[0]["loss"])


def test_a_resumed_run_writes_the_same_files_as_a_straight_one(tmp_path: Path) -> None:
    _fit(tmp_path / "straight")
    with pytest.raises(_Stop):
        _fit(tmp_path / "resumed", _KillAfter(2))
    assert len(read_rows(tmp_path / "resumed" / TRAIN)) == 2
    _fit(tmp_path / "resumed", resume="auto")
    for name in (TRAIN, VAL):
        assert (tmp_path / "resumed" / name).read_text() == (tmp_path / "straight" / name).read_text()


def test_a_fresh_run_drops_the_rows_of_an_earlier_one(tmp_path: Path) -> None:
    _fit(tmp_path)
    with pytest.raises(_Stop):
        _fit(tmp_path, _KillAfter(1))
    assert [r["epoch"] for r in read_rows(tmp_path / TRAIN)] == ["1"]
    assert [r["epoch"] for r in read_rows(tmp_path / VAL)] == ["1"]
