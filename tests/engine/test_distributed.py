"""Two-process DDP on CPU (gloo) through the real CLI under torchrun."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pose.data.synth import generate
from pose.engine.checkpoint import load_checkpoint


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc-per-node 2 -m pose.cli ARGS`` on a free loopback port, one thread each."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port),
           "-m", "pose.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    generate(ds, kind="human", images=8, seed=1, size=128, val_fraction=0.25, progress=False)
    cfg = tmp_path / "pose.yaml"
    cfg.write_text(
        f"dataset: {ds}\nmodel: {{preset: rtmpose-t, input_size: [64, 64]}}\n"
        "train: {epochs: 1, batch_size: 2, workers: 0, warmup_iters: 1}\ntest: {batch_size: 8}\n"
    )
    work = tmp_path / "work"
    r = _torchrun("train", str(cfg), "--work-dir", str(work), "--launcher", "torchrun", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    state = load_checkpoint(work / "latest.pth")
    assert state["epoch"] == 1
    assert r.stderr.count("world_size=2") == 1, "only rank 0 logs"
    assert r.stdout.count("done in") == 1
    assert "AP" in state["history"][-1]


@pytest.mark.slow
def test_torchrun_two_processes_train_the_detector_on_cpu(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    generate(ds, kind="human", images=8, seed=2, size=96, val_fraction=0.25, progress=False)
    cfg = tmp_path / "detector.yaml"
    cfg.write_text(f"dataset: {ds}\npreset: fcos-tiny\ninput_size: 96\n"
                   "train: {epochs: 1, batch_size: 2, workers: 0, warmup_iters: 1, lr: 0.001, base_batch_size: 2}\n")
    work = tmp_path / "work"
    r = _torchrun("train-det", str(cfg), "--work-dir", str(work), "--launcher", "torchrun", "--autoscale-lr", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    state = load_checkpoint(work / "latest.pth")
    assert state["epoch"] == 1 and "bbox_mAP" in state["history"][-1]
    assert r.stderr.count("world_size=2") == 1, "only rank 0 logs"
    assert r.stdout.count("done in") == 1
    import yaml

    assert yaml.safe_load((work / "params.yaml").read_text())["train"]["autoscale_lr"] is True
    # one epoch of cosine ends at min_lr_ratio (0.05) of the base lr, which 2 processes x batch 2 / base 2 doubled
    assert state["history"][-1]["lr"] == pytest.approx(0.05 * 0.001 * 2, rel=1e-3)


def test_torchrun_launcher_outside_torchrun_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "pose.yaml"
    cfg.write_text("dataset: nowhere\n")
    r = subprocess.run([sys.executable, "-m", "pose.cli", "train", str(cfg), "--launcher", "torchrun", "--device", "cpu",
                        "--work-dir", str(tmp_path / "w")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "torchrun" in r.stderr
