"""Helpers of the fault-injection tests: start a command in its own process group, wait for a
condition, SIGKILL it (the whole group, as an OOM killer or a power cut would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent


def child_env(**extra: str) -> dict[str, str]:
    """This environment without outer MLflow/Prefect settings, venv first, one thread."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "POSE_MLFLOW_PARENT_RUN", "POSE_PROJECT_ROOT", "PREFECT_API_URL", "POSE_TRACK")}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "OMP_NUM_THREADS": "1", "DVC_NO_ANALYTICS": "1",
                "DO_NOT_TRACK": "1", **extra})
    return env


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(args, cwd=cwd, env=env or child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60.0, poll: float = 0.02) -> bool:
    """Poll ``cond`` until true (True), the process exits first or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(poll)
    return False


def kill_group(proc: subprocess.Popen[str]) -> tuple[bool, str]:
    """SIGKILL the process group; (whether it was still running, i.e. the fault really hit it; its output)."""
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # grandchildren (dvc, a stage) are reaped by init a moment later
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return alive, out or ""


def finish(proc: subprocess.Popen[str], timeout: float = 300.0) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


STAGE_SCRIPT = '''\
"""A stage of the minimal fault-test pipeline: its behaviour comes from plan.json (not a dep)."""
import json, os, sys, time
from pathlib import Path

name, src, dst = sys.argv[1:4]
plan = json.loads(Path("plan.json").read_text()).get(name, "ok") if Path("plan.json").exists() else "ok"
attempts = Path(f"attempts.{name}")
n = int(attempts.read_text()) + 1 if attempts.exists() else 1
attempts.write_text(str(n))
if plan == "fail" or (plan == "flaky" and n == 1):
    sys.exit(f"labels are broken in {name} (attempt {n})")
if plan in ("slow", "pause"):
    Path(f"running.{name}").write_text(str(os.getpid()))
    time.sleep(120 if plan == "slow" else 3)
tmp = Path(dst + ".tmp")
tmp.write_text(Path(src).read_text() + name + "\\n")
os.replace(tmp, dst)
'''


def make_dvc_repo(root: Path, stages: tuple[str, str] = ("make", "use")) -> Path:
    """A git + DVC repo with two chained stages ``in.txt -> a.txt -> b.txt`` running ``stage.py``."""
    import yaml

    from pose.pipeline import dvc as pipe

    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    assert pipe.dvc(["init", "-q"], root, env=child_env()).returncode == 0
    subprocess.run(["git", "config", "core.autocrlf", "false"], cwd=root, check=True)
    (root / "stage.py").write_text(STAGE_SCRIPT)
    (root / "in.txt").write_text("v1\n")
    first, second = stages
    spec = {first: {"cmd": f"{sys.executable} stage.py {first} in.txt a.txt", "deps": ["stage.py", "in.txt"], "outs": ["a.txt"]},
            second: {"cmd": f"{sys.executable} stage.py {second} a.txt b.txt", "deps": ["stage.py", "a.txt"], "outs": ["b.txt"]}}
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": spec}, sort_keys=False))
    return root


def set_plan(root: Path, **plan: str) -> None:
    import json

    (root / "plan.json").write_text(json.dumps(plan))
    for p in root.glob("running.*"):
        p.unlink()


def locked_stages(root: Path) -> dict[str, object]:
    """Stage -> its dvc.lock entry (empty when there is no dvc.lock)."""
    import yaml

    path = root / "dvc.lock"
    return dict((yaml.safe_load(path.read_text()) or {}).get("stages") or {}) if path.is_file() else {}
