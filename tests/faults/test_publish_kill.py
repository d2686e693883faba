"""SIGKILL ``pose publish`` while it writes the published files (ONNX export and its parity check,
model card, weights): every file that exists is complete (weights hash to the name, the ONNX
loads and checks), and the next run publishes the same bytes."""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from pathlib import Path

import pytest
from faults.support import finish, kill_group, start, wait_for
from model_files import make_pose_checkpoint

from pose.data.synth import generate
from pose.modelio.onnx import OnnxPoseModel
from pose.modelio.published import load_published

pytestmark = pytest.mark.slow


def _publish(ckpt: Path, out: Path):
    return start([sys.executable, "-m", "pose.cli", "publish", str(ckpt), "--out", str(out)], ckpt.parent)


def _complete(out: Path) -> list[str]:
    """Names of the visible files in ``out``, each checked complete."""
    names = []
    for p in sorted(out.glob("*")):
        if p.name.startswith("."):
            continue  # a temp file a killed write left: never taken for an output
        if p.suffix == ".pth":
            sha = load_published(p)[2]["sha256"]
            assert p.stem.endswith(sha[:8]) and hashlib.sha256(p.read_bytes()).hexdigest() == sha, f"{p.name} is not whole"
        elif p.suffix == ".onnx":
            OnnxPoseModel(p)  # onnx.checker + posepipe metadata; raises on a truncated file
        elif p.suffix == ".md":
            assert p.read_text().rstrip().endswith("_"), f"{p.name} is cut short"
        names.append(p.name)
    return names


def test_kills_during_publish_leave_only_complete_files(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    generate(tmp_path / "ds", images=4, seed=6, size=96, val_fraction=0.5, progress=False)
    ckpt = make_pose_checkpoint(tmp_path / "best.pth", tmp_path / "ds")

    reference = tmp_path / "reference"
    t0 = time.perf_counter()
    rc, out = finish(_publish(ckpt, reference))
    assert rc == 0, out[-3000:]
    expected = _complete(reference)
    assert {Path(n).suffix for n in expected} == {".pth", ".onnx", ".md"}, expected
    one = time.perf_counter() - t0

    target = tmp_path / "out"
    target.mkdir()
    hits = 0
    for _ in range(4):
        before = set(os.listdir(target))
        proc = _publish(ckpt, target)
        # a new (temp) file appears when the export starts: kill somewhere in the writing that follows
        wait_for(lambda: bool(set(os.listdir(target)) - before), proc, timeout=120)
        time.sleep(rng.uniform(0.0, 0.25) * one)
        hits += kill_group(proc)[0]
        left = _complete(target)
        assert set(left) <= set(expected), (left, seed)
    assert hits >= 2, f"publish finished before most kills (seed {seed})"

    rc, out = finish(_publish(ckpt, target))
    assert rc == 0, out[-3000:]
    assert _complete(target) == expected
    for name in expected:
        if not name.endswith(".md"):  # the card carries the time it was written
            assert (target / name).read_bytes() == (reference / name).read_bytes(), name
