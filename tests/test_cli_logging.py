"""The CLI's log handler: the library's records on stderr as plain lines (INFO by default, WARNING
with --quiet, DEBUG with --verbose, inherited by child ``pose`` processes); flags anywhere."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pose import cli

BIN = Path(sys.executable).parent


@pytest.fixture
def pose_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The ``pose`` logger, restored after the test (handlers, level, POSE_LOG_LEVEL)."""
    logger = logging.getLogger("pose")
    handlers, level = list(logger.handlers), logger.level
    monkeypatch.delenv(cli.LOG_LEVEL_ENV, raising=False)
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _emit(logger: logging.Logger) -> None:
    child = logger.getChild("engine.trainer")
    child.debug("a debug line")
    child.info("epoch %d/%d: loss %s", 1, 2, "0.5")
    child.warning("MLflow logging failed, training goes on: %s", "disk full")


@pytest.mark.parametrize(("flags", "shown", "hidden"), [
    ({}, ["epoch 1/2: loss 0.5", "warning: MLflow logging failed, training goes on: disk full"], ["a debug line"]),
    ({"quiet": True}, ["warning: MLflow logging failed"], ["epoch 1/2", "a debug line"]),
    ({"verbose": True}, ["a debug line", "epoch 1/2: loss 0.5", "warning: MLflow"], []),
])
def test_levels(pose_logger: logging.Logger, capsys: pytest.CaptureFixture[str], flags: dict, shown: list[str], hidden: list[str]) -> None:
    cli.setup_logging(**flags)
    _emit(pose_logger)
    out, err = capsys.readouterr()
    assert out == ""
    for text in shown:
        assert text in err, err
    for text in hidden:
        assert text not in err, err
    assert all(line == line.rstrip() for line in err.splitlines()), "no padding to the terminal width"


def test_one_handler_however_often_it_is_set_up(pose_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    cli.setup_logging()
    cli.setup_logging(verbose=True)
    _emit(pose_logger)
    assert capsys.readouterr().err.count("epoch 1/2") == 1


def test_a_flag_is_inherited_by_child_pose_processes(pose_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    cli.setup_logging(quiet=True)
    assert os.environ[cli.LOG_LEVEL_ENV] == "quiet"
    cli.setup_logging()  # a child started with that environment, no flag of its own
    _emit(pose_logger)
    assert "epoch 1/2" not in capsys.readouterr().err


def _pose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != cli.LOG_LEVEL_ENV}
    return subprocess.run([str(BIN / "pose"), *args], capture_output=True, text=True, timeout=120, env={**clean, **(env or {})}, check=False)


def test_flags_anywhere_and_not_both() -> None:
    assert _pose("version", "--quiet").returncode == 0 and _pose("-q", "version").returncode == 0
    both = _pose("--quiet", "--verbose", "version")
    assert both.returncode == 2 and "give --quiet or --verbose, not both" in both.stderr, both.stderr


@pytest.mark.slow  # three `pose infer` processes (torch start-up each)
def test_pose_infer_summary_follows_the_flags(tmp_path: Path) -> None:
    from model_files import make_pose_checkpoint

    from pose.data.synth import generate

    generate(tmp_path / "ds", kind="human", images=2, seed=1, size=96, val_fraction=0.5, progress=False)
    ckpt = make_pose_checkpoint(tmp_path / "m.pth", tmp_path / "ds")
    image = next((tmp_path / "ds/images").iterdir())
    base = ["infer", str(image), "--pose-model", str(ckpt), "--full-frame", "--save-json", str(tmp_path / "r.json"), "--device", "cpu"]
    default, quiet, inherited = _pose(*base), _pose(*base, "--quiet"), _pose(*base, env={cli.LOG_LEVEL_ENV: "quiet"})
    for r in (default, quiet, inherited):
        assert r.returncode == 0, r.stderr
    assert "1 frames, 1 instances in" in default.stderr
    assert "frames" not in quiet.stderr and "frames" not in inherited.stderr
