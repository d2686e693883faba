"""Helpers of the e2e tests: a throw-away copy of the project (git init'ed) with tiny params.

Tiny = 16 synthetic 128 px images, one epoch per model, 64x64 pose input: the whole chain takes
a couple of minutes on 2 CPU cores. Stage commands run this checkout's ``pose`` (the venv's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TINY = [
    "params/data.yaml:synth.images=16", "params/data.yaml:synth.size=128",
    "params/detector.yaml:input_size=128", "params/detector.yaml:train.epochs=1", "params/detector.yaml:train.batch_size=4",
    "params/detector.yaml:train.workers=0", "params/detector.yaml:train.warmup_iters=1", "params/detector.yaml:train.val_interval=1",
    "params/pose.yaml:model.input_size=[64,64]", "params/pose.yaml:train.epochs=1", "params/pose.yaml:train.batch_size=8",
    "params/pose.yaml:train.workers=0", "params/pose.yaml:train.warmup_iters=1", "params/pose.yaml:test.flip=false",
    "params/eval.yaml:curve_points=10", "params/eval.yaml:batch_size=16",
]
_LEAKY = ("MLFLOW_TRACKING_URI", "POSE_MLFLOW_PARENT_RUN", "POSE_PROJECT_ROOT", "PREFECT_API_URL", "POSE_TRACK", "POSE_LOG_LEVEL")


def e2e_env(root: Path) -> dict[str, str]:
    """A clean environment for commands run in ``root``: venv first, no outer MLflow/Prefect settings."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PREFECT_HOME": str(root / ".prefect"), "DVC_NO_ANALYTICS": "1",
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    return env


def run(args: list[str], root: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=root, env=e2e_env(root), capture_output=True, text=True, timeout=timeout, check=False)


def make_tiny_repo(root: Path) -> Path:
    """Copy the project's tracked and untracked-but-not-ignored files to ``root``, apply ``TINY``, commit."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT, capture_output=True, text=True, check=True)
    for rel in listed.stdout.splitlines():
        src = PROJECT / rel
        if src.is_file() and not rel.startswith("tests/"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    r = run([str(BIN / "pose"), "pipeline", "set", *TINY], root)
    if r.returncode != 0:
        raise RuntimeError(f"pose pipeline set failed: {r.stderr}")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "-qm", "tiny"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    return root
