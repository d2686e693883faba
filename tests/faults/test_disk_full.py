"""A checkpoint write that runs out of space (a real EFBIG from RLIMIT_FSIZE in a child process,
SIGXFSZ ignored so write(2) fails instead of killing it): one clear error, the previous
checkpoint intact, no temp file left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from pose.engine.checkpoint import load_checkpoint, save_checkpoint

CHILD = """
import resource, signal, sys
import torch
from pose.engine.checkpoint import save_checkpoint
from pose.errors import CheckpointError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
try:
    save_checkpoint(sys.argv[1], {"model": {"w": torch.ones(1_000_000)}, "epoch": 2})
except CheckpointError as e:
    print("ERROR", e)
    sys.exit(3)
print("no error")
"""


def test_file_size_limit_during_checkpoint_write(tmp_path: Path) -> None:
    path = tmp_path / "latest.pth"
    save_checkpoint(path, {"model": {"w": torch.zeros(10)}, "epoch": 1})
    before = path.read_bytes()
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(256 * 1024)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stdout + r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith(f"ERROR {path}: cannot write checkpoint (File too large)") and "the previous checkpoint is intact" in line
    assert "Traceback" not in r.stderr
    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pth"]


def _limited(limit: int):  # noqa: ANN202
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return apply


def test_pose_train_out_of_space_fails_cleanly_and_keeps_the_last_epoch(tmp_path: Path) -> None:
    """Through the real CLI: epoch 2's checkpoint cannot be written; exit 2 with one line naming
    the file, epoch 1's checkpoint byte-identical, no temp file, and a later resume continues."""
    import os

    from pose.data.synth import generate

    ds = tmp_path / "ds"
    generate(ds, kind="human", images=4, seed=4, size=96, val_fraction=0.5, progress=False)
    cfg = tmp_path / "pose.yaml"
    cfg.write_text(f"dataset: {ds}\nmodel: {{preset: rtmpose-t, input_size: [64, 64]}}\n"
                   "train: {epochs: 2, batch_size: 2, workers: 0, warmup_iters: 1}\n")
    work = tmp_path / "work"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "pose.cli", "train", str(cfg), "--work-dir", str(work), "--no-validate", "--device", "cpu"]
    first = subprocess.run([*base, "--set", "train.epochs=1"], capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    latest = work / "latest.pth"
    before = latest.read_bytes()

    full = subprocess.run([*base, "--resume", "auto"], capture_output=True, text=True, timeout=300, env=env,
                          preexec_fn=_limited(len(before) // 2))
    assert full.returncode == 2, full.stdout[-2000:] + full.stderr[-3000:]
    assert "Traceback" not in full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {latest}: cannot write checkpoint (File too large)"), full.stderr[-2000:]
    assert latest.read_bytes() == before and load_checkpoint(latest)["epoch"] == 1
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")], "no temp file left"

    again = subprocess.run([*base, "--resume", "auto"], capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert load_checkpoint(latest)["epoch"] == 2
