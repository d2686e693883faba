"""SIGKILL ``pose train`` at random points: ``--resume auto`` continues from the last complete
checkpoint, no checkpoint is ever truncated, and with ``--deterministic`` the resumed run ends
with exactly the weights of an uninterrupted one."""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from faults.support import finish, kill_group, start, wait_for

from pose.data.synth import generate
from pose.engine.checkpoint import LATEST, load_checkpoint

pytestmark = pytest.mark.slow
EPOCHS = 8


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train_kill")
    generate(root / "ds", images=12, size=64, progress=False)
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": str(root / "ds"), "model": {"preset": "rtmpose-t", "input_size": [32, 32]},
        "train": {"epochs": EPOCHS, "batch_size": 4, "workers": 0, "warmup_iters": 1, "ema": True}, "test": {"flip": False},
    }))
    return path


def _train(params: Path, work: Path, *extra: str):
    return start([sys.executable, "-m", "pose.cli", "train", str(params), "--work-dir", str(work), "--deterministic",
                  "--device", "cpu", "--no-validate", *extra], work.parent)


def _epoch(work: Path) -> int:
    try:
        return int(load_checkpoint(work / LATEST)["epoch"])
    except Exception:  # not written yet
        return 0


def _all_checkpoints_load(work: Path) -> list[str]:
    names = []
    for p in sorted(work.glob("*.pth")):
        load_checkpoint(p)  # weights_only=True; raises CheckpointError on a truncated file
        names.append(p.name)
    return names


def test_sigkill_then_resume_auto_equals_straight(params: Path, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    straight = tmp_path / "straight"
    rc, out = finish(_train(params, straight))
    assert rc == 0, out[-2000:]

    work = tmp_path / "killed"
    kills, torn = [], []
    # The mid-write kill races the rename of the temp file: try it a few times (each attempt is a
    # real kill; progress carries over through --resume auto) until one lands inside a write.
    for mode in ("mid-write", "mid-write", "mid-write", "random"):
        if mode == "mid-write" and torn:
            continue
        before = _epoch(work)
        proc = _train(params, work, "--resume", "auto")
        if mode == "mid-write":  # a temp checkpoint is being written after at least one complete epoch
            reached = wait_for(lambda: any(work.glob(".latest.pth.*.tmp")) and (work / LATEST).is_file(), proc, timeout=120, poll=0.002)
        else:
            reached = wait_for(lambda b=before: _epoch(work) > b, proc, timeout=120, poll=0.05)
            time.sleep(rng.uniform(0.0, 0.3))  # lands in a step, a checkpoint write, or between
        assert reached, f"{mode}: training never reached the kill point (seed {seed}): {proc.communicate()[0][-2000:]}"
        assert kill_group(proc)[0], f"{mode}: run finished before the kill (seed {seed}); nothing was injected"
        kills.append(_epoch(work))
        torn += list(work.glob(".*.tmp"))
        assert "latest.pth" in _all_checkpoints_load(work)
    assert torn, "no mid-write kill left a torn temp file in 3 tries (the real file must stay complete)"
    assert 1 <= kills[0] and kills == sorted(kills) and kills[-1] < EPOCHS

    rc, out = finish(_train(params, work, "--resume", "auto"))
    assert rc == 0, out[-2000:]
    # whitespace dropped: the console wraps long lines, a long tmp path included (anywhere in it)
    assert f"resumedfrom{work / LATEST}atepoch{kills[-1]}" in "".join(out.split()), out[-2000:]
    a, b = load_checkpoint(straight / LATEST), load_checkpoint(work / LATEST)
    assert a["epoch"] == b["epoch"] == EPOCHS
    for part in ("model", "ema"):
        diff = [k for k, v in a[part].items() if not torch.equal(v, b[part][k])]
        assert not diff, f"{part} differs after kills at epochs {kills} (seed {seed}): {diff[:5]}"
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    _all_checkpoints_load(work)
    assert not list(work.glob(".*.tmp")), "the resumed run removes temp files of killed writes"
