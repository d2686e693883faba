"""The library logs through ``logging`` (loggers under ``pose``), never to the terminal itself: a
Python API user sees what the ``pose`` logger lets through and can silence it."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
import torch

from pose.engine.runtime import seed_everything
from pose.engine.trainer import Task, fit
from pose.params import TrainParams

ROOT = Path(__file__).resolve().parents[2]
X = torch.randn(32, 3, generator=torch.Generator().manual_seed(3))
Y = X.sum(1)


def _task() -> Task:
    seed_everything(0)
    model = torch.nn.Linear(3, 1)
    batches = [{"x": X[i:i + 16], "y": Y[i:i + 16]} for i in (0, 16)]
    return Task(model=model, loss=lambda m, b: {"mse": ((m(b["x"]).squeeze(1) - b["y"]) ** 2).mean()}, loaders=lambda epoch: batches,
                iters_per_epoch=2, evaluate=lambda m: {"neg": 0.0}, best_metric="neg")


def _fit(work: Path) -> None:
    fit(_task(), TrainParams(epochs=2, lr=0.01, warmup_iters=0, amp="none", ema=False, channels_last=False), work_dir=work,
        device=torch.device("cpu"))


def test_training_reports_through_the_pose_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO, logger="pose")
    _fit(tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("pose.")]
    assert any(m.startswith("device device=cpu") for m in lines), lines
    assert [m.split(":")[0] for m in lines if m.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]


def test_an_api_user_silences_it(tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.INFO)  # a chatty application: INFO for every logger ...
    logging.getLogger("pose").setLevel(logging.ERROR)  # ... but not posepipe's
    try:
        _fit(tmp_path)
    finally:
        logging.getLogger("pose").setLevel(logging.NOTSET)
    assert not [r for r in caplog.records if r.name.startswith("pose")]
    out, err = capfd.readouterr()
    assert out == "" and err == "", "no progress bar or print either"


def test_library_modules_do_not_print() -> None:
    """print() only in the command-line modules; the library logs (or renders a report it is handed a console for)."""
    cli = [ROOT / "pose/cli.py", ROOT / "pose/cli", ROOT / "pose/pipeline/commands.py"]
    offenders = []
    for f in sorted((ROOT / "pose").rglob("*.py")):
        if any(f == c or c in f.parents for c in cli):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
