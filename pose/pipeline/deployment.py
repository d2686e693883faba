"""Deployment ``train-pose/train-pose`` on the process work pool ``posepipe-process``
(``prefect.yaml``), and what it shares with ``flows/train_pose.py serve``.

``prefect.yaml`` holds no schedule of its own: its build step :func:`project_settings` runs in
``prefect deploy`` (in the project root) and returns the project root, the cron and timezone of
``params/schedule.yaml`` and the default parameters; the deployment's schedule, parameters and
its ``set_working_directory`` pull step are templated from that output. So ``prefect deploy``,
however it is called, deploys the schedule that ``make serve`` serves, read from the one file.

:func:`deploy` is ``pose pipeline deploy`` (``make deploy``): the work pool when missing, then
``prefect deploy --name train-pose --no-prompt``, against the local server's API URL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pose.errors import PoseError
from pose.params import ScheduleParams
from pose.pipeline.prefect_server import API_URL_FILE, server_env
from pose.pipeline.run import RunOptions, load_schedule

FLOW = "train-pose"
DEPLOYMENT = "train-pose"
WORK_POOL = "posepipe-process"
PREFECT_FILE = "prefect.yaml"
DESCRIPTION = "Retrain when data or params changed (dvc status), publish, gate the champion."


def default_parameters(sched: ScheduleParams) -> dict[str, Any]:
    """The deployment's default flow parameters (``RunOptions`` with ``only_if_changed``)."""
    return {"options": RunOptions(only_if_changed=sched.only_if_changed).model_dump()}


def project_settings() -> dict[str, Any]:
    """``prefect.yaml``'s build step (run by ``prefect deploy`` in the project root): ``root``,
    ``cron``, ``timezone`` (``params/schedule.yaml``), the default ``options`` parameter, ``description``."""
    root = Path.cwd().resolve()
    sched = load_schedule(root)
    return {"root": str(root), "cron": sched.cron, "timezone": sched.timezone, "options": default_parameters(sched)["options"],
            "description": DESCRIPTION}


def resolve_api_url(root: Path, api_url: str | None = None) -> str:
    """``api_url`` when given, else the project's local server's (``ROOT/.prefect/api_url``, written
    while ``make server`` or ``make serve`` runs); a ``PoseError`` when there is none."""
    path = root / API_URL_FILE
    url = api_url or (path.read_text("utf-8").strip() if path.is_file() else "")
    if not url:
        raise PoseError("no local Prefect server running (this file is written while one runs)", file=API_URL_FILE,
                        hint="start one with `make server` (it keeps running), then `make deploy` in another shell")
    return url


def _prefect(args: list[str], root: Path, url: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``prefect ARGS`` in ``root`` against ``url``; a ``PoseError`` with its output when it fails and ``check``."""
    env = {**server_env(root), "PREFECT_API_URL": url}
    proc = subprocess.run([str(Path(sys.executable).parent / "prefect"), *args], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        tail = " ".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        raise PoseError(f"`prefect {' '.join(args)}` failed (exit {proc.returncode}): {tail}", file=PREFECT_FILE)
    return proc


def ensure_work_pool(root: Path, url: str, pool: str = WORK_POOL) -> bool:
    """Create the process work pool ``pool`` unless it exists; True when it was created."""
    if _prefect(["work-pool", "inspect", pool], root, url, check=False).returncode == 0:
        return False
    _prefect(["work-pool", "create", pool, "--type", "process"], root, url)
    return True


def deploy(root: str | Path, api_url: str | None = None) -> dict[str, Any]:
    """``pose pipeline deploy``: the work pool when missing, then ``prefect deploy --name
    train-pose --no-prompt`` from ``ROOT/prefect.yaml`` to the server at ``api_url`` (default: the
    local one); returns the URL, pool, whether it was created, the deployment and its schedule."""
    root = Path(root).resolve()
    if not (root / PREFECT_FILE).is_file():
        raise PoseError("missing: the deployment is declared there", file=root / PREFECT_FILE, hint="run this in the project root")
    sched, url = load_schedule(root), resolve_api_url(root, api_url)  # a bad params/schedule.yaml: one line, before Prefect
    created = ensure_work_pool(root, url)
    _prefect(["--no-prompt", "deploy", "--name", DEPLOYMENT], root, url)
    return {"api_url": url, "work_pool": WORK_POOL, "pool_created": created, "deployment": f"{FLOW}/{DEPLOYMENT}",
            "cron": sched.cron, "timezone": sched.timezone}
