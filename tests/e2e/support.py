"""Helpers of the e2e tests: a throw-away copy of the project (git init'ed) with tiny params.

Tiny = 16 synthetic 128 px images, one epoch per model, 64x64 pose input: the whole chain takes
a couple of minutes on 2 CPU cores. Stage commands run this checkout's ``pose`` (the venv's).
The Prefect tests share the rest: long-running commands in their own process group (``start`` /
``stop``), the local server's API URL, ``prefect deployment run --watch`` and artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

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


def prefect_env(root: Path, api: str, **extra: str) -> dict[str, str]:
    """``e2e_env`` talking to the Prefect server at ``api``."""
    return {**e2e_env(root), "PREFECT_API_URL": api, **extra}


def start(args: list[str], root: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A long-running command in ``root`` in its own process group, its output in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(args, cwd=root, env=env or e2e_env(root), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    """SIGTERM to ``proc``'s process group (``start``), then SIGKILL when it is still there after ``timeout`` s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_api_url(root: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> str:
    """The local server's API URL once ``ROOT/.prefect/api_url`` exists (written when it is healthy)."""
    url_file, deadline = root / ".prefect" / "api_url", time.monotonic() + timeout
    while not url_file.is_file():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return url_file.read_text().strip()


def trigger(root: Path, api: str, params: dict[str, Any] | None = None, deployment: str = "train-pose/train-pose",
            timeout: float = 500) -> tuple[subprocess.CompletedProcess[str], float]:
    """``prefect deployment run DEPLOYMENT --watch [--params JSON]``: its result and seconds."""
    args = [str(BIN / "prefect"), "deployment", "run", deployment, "--watch", "--watch-timeout", str(int(timeout))]
    if params:
        args += ["--params", json.dumps(params)]
    t0 = time.perf_counter()
    r = subprocess.run(args, cwd=root, env=prefect_env(root, api), capture_output=True, text=True, timeout=timeout + 60, check=False)
    return r, time.perf_counter() - t0


def latest_artifact(api: str, key: str = "train-pose-summary") -> str:
    """The newest artifact ``key``'s data, through the server's REST API."""
    req = urllib.request.Request(f"{api}/artifacts/filter", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())[0]["data"]
