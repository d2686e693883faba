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
