"""Running the DVC pipeline from code: the venv's ``dvc`` with the venv first on ``PATH`` (so the
``pose`` in ``dvc.yaml`` commands is this project's), one lock per project (two DVC commands at
once fail with "is busy"), an MLflow parent run around ``dvc repro``, and the change checks a
scheduled run uses to decide whether there is anything to retrain.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from pose.errors import PoseError

STAGES = ("prepare", "validate", "train_detector", "train_pose", "evaluate", "publish")
LOCK = ".dvc/tmp/pose-pipeline.lock"
METRICS = "build/eval/metrics.json"
PUBLISH_RESULT = "build/publish/publish.json"


class StageFailed(PoseError):
    """A DVC command failed; the message carries the stage and the tail of its output (lines kept)."""

    def __str__(self) -> str:
        return self.message


def bin_dir() -> Path:
    """The folder of this interpreter's console scripts (``.venv/bin``)."""
    return Path(sys.executable).parent


def pipeline_env(root: str | Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of DVC and its stages: venv first on PATH, project root, no telemetry."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env.update({"POSE_PROJECT_ROOT": str(Path(root).resolve()), "DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"})
    env.update(extra or {})
    return env


def dvc(args: Sequence[str], root: str | Path, *, capture: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``dvc ARGS`` in ``root`` (a list of arguments, never a shell)."""
    exe = bin_dir() / "dvc"
    return subprocess.run([str(exe if exe.exists() else "dvc"), *args], cwd=root, env=env or pipeline_env(root),
                          capture_output=capture, text=True, check=False)


def failure_text(stage: str, proc: subprocess.CompletedProcess[str], lines: int = 25) -> str:
    """The failing stage's own error lines (DVC's ``ERROR:`` lines and the output tail)."""
    out = "\n".join(x for x in ((proc.stdout or "") + "\n" + (proc.stderr or "")).splitlines() if x.strip())
    tail = out.splitlines()[-lines:]
    return f"stage '{stage}' failed (exit {proc.returncode}):\n" + "\n".join(tail)


def repro_stage(stage: str, root: str | Path, *, force: bool = False) -> str:
    """``dvc repro -s [-f] STAGE``; returns its output, raises ``StageFailed`` with the error text."""
    proc = dvc(["repro", "-s", *(["-f"] if force else []), stage], root)
    if proc.returncode != 0:
        raise StageFailed(failure_text(stage, proc))
    return proc.stdout


def status(root: str | Path) -> dict[str, Any]:
    """``dvc status --json``: stage / .dvc file -> what changed; empty when up to date."""
    proc = dvc(["status", "--json"], root)
    if proc.returncode != 0:
        raise StageFailed(failure_text("status", proc))
    text = proc.stdout.strip()
    return json.loads(text[text.find("{"):]) if "{" in text else {}


def data_md5(root: str | Path) -> str | None:
    """The md5 ``data.dvc`` records for ``data/`` (DVC rewrites it when the data changed)."""
    path = Path(root) / "data.dvc"
    if not path.is_file():
        return None
    outs = (yaml.safe_load(path.read_text("utf-8")) or {}).get("outs") or []
    return str(outs[0].get("md5")) if outs else None


@contextlib.contextmanager
def pipeline_lock(root: str | Path, timeout: float = 24 * 3600.0, poll: float = 2.0) -> Iterator[float]:
    """Hold the project's pipeline lock (waiting up to ``timeout`` s); yields the seconds waited."""
    path = Path(root) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(path, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - t0 > timeout:
                    raise StageFailed(f"another pipeline run holds {path} for more than {timeout:.0f} s") from None
                time.sleep(poll)
        try:
            yield time.monotonic() - t0
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def dir_md5(path: str | Path) -> str:
    """DVC's hash of a folder (the ``md5`` of ``data.dvc`` without ``.dir``), computed without DVC."""
    import hashlib

    root = Path(path)
    entries = sorted(({"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.relative_to(root).as_posix()}
                      for p in root.rglob("*") if p.is_file()), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def read_json_if(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def run_pipeline(root: str | Path, *, stages: Sequence[str] = (), force: bool = False) -> dict[str, Any]:
    """``dvc repro`` (output streamed) under the lock and one MLflow parent run; returns a summary."""
    from pose import tracking

    root = Path(root).resolve()
    before = data_md5(root)
    with pipeline_lock(root) as waited:
        t0 = time.perf_counter()
        if not force and not stages and not status(root):
            return {"seconds": round(time.perf_counter() - t0, 2), "waited_s": round(waited, 2), "up_to_date": True,
                    "data_md5_before": before, "data_md5_after": before, "data_changed": False,
                    "metrics": read_json_if(root / METRICS) or {}, "publish": read_json_if(root / PUBLISH_RESULT)}
        with tracking.start_pipeline_run("pipeline", root=root, tags={"pose.trigger": "cli"}) as parent:
            args = ["repro", *(["--force"] if force else []), *stages]
            proc = dvc(args, root, capture=False, env=pipeline_env(root, {tracking.PARENT_ENV: parent.run_id}))
            after = data_md5(root)
            metrics = read_json_if(root / METRICS) or {}
            parent.log_metrics(metrics)
            parent.set_tags({"pose.data_changed": str(before != after).lower(), "pose.data_md5": after or "unknown"})
            parent.log_pipeline_files()
            if proc.returncode != 0:
                raise StageFailed(f"dvc repro failed (exit {proc.returncode}); see the stage output above")
    return {"seconds": round(time.perf_counter() - t0, 2), "waited_s": round(waited, 2), "up_to_date": False, "data_md5_before": before,
            "data_md5_after": after, "data_changed": before != after, "metrics": metrics,
            "publish": read_json_if(root / PUBLISH_RESULT)}
