"""DVC from code: the venv's ``dvc`` with the venv first on ``PATH`` (so the ``pose`` in
``dvc.yaml`` commands is this project's), one lock per project (two DVC commands at once fail
with "is busy"), ``dvc repro -s`` of one stage, ``dvc status``, and the data hashes a scheduled
run compares to see whether the data changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from pose.errors import PIPELINE_HINT, MissingExtra, PoseError
from pose.tracking.lineage import data_dvc_outs

log = logging.getLogger(__name__)

STAGES = ("prepare", "validate", "champion", "train_detector", "train_pose", "evaluate", "publish")
LOCK = ".dvc/tmp/pose-pipeline.lock"
METRICS = "build/eval/metrics.json"
PUBLISH_RESULT = "build/publish/publish.json"
CHOICES = "build/champion"  #: stage ``champion``'s output: ``<kind>.json`` per model (``pose.pipeline.champion``)


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
    if not exe.exists() and shutil.which("dvc") is None:
        raise MissingExtra("this command needs dvc, which is not installed", hint=PIPELINE_HINT)
    log.debug("dvc %s (in %s)", " ".join(args), root)
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


def stage_outcome(output: str) -> str:
    """What ``dvc repro -s STAGE`` did, from its output: ``ran`` or ``skipped (unchanged)``."""
    return "skipped (unchanged)" if "didn't change, skipping" in output else "ran"


def stage_names(root: str | Path) -> tuple[str, ...]:
    """The stage names of ``ROOT/dvc.yaml`` in file order (the project's: ``STAGES``)."""
    spec = yaml.safe_load((Path(root) / "dvc.yaml").read_text("utf-8")) or {}
    return tuple(spec.get("stages") or {})


def status(root: str | Path) -> dict[str, Any]:
    """``dvc status --json``: stage / .dvc file -> what changed; empty when up to date."""
    proc = dvc(["status", "--json"], root)
    if proc.returncode != 0:
        raise StageFailed(failure_text("status", proc))
    text = proc.stdout.strip()
    return json.loads(text[text.find("{"):]) if "{" in text else {}


def data_md5(root: str | Path) -> str | None:
    """The md5 ``data.dvc`` records for ``data/`` (DVC rewrites it when the data changed)."""
    outs = data_dvc_outs(root)
    return outs[0][1] if outs else None


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
    root = Path(path)
    entries = sorted(({"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.relative_to(root).as_posix()}
                      for p in root.rglob("*") if p.is_file()), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest()
