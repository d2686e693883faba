"""Prefect flow ``train-pose``: one task per DVC stage, each running ``dvc repro -s STAGE``, so
DVC's cache and ``dvc.lock`` stay the record and a Prefect run can never disagree with ``dvc repro``.

- Parameters (``RunOptions``, pydantic): data source / presets / any ``FILE:KEY=VALUE`` params
  override. Overrides are written into ``params/*.yaml`` (validated), as ``dvc exp run -S`` does,
  so the files, ``dvc.lock`` and the MLflow params always agree.
- Scheduled retraining: with ``only_if_changed`` (the deployment's default) the run first makes
  ``data/`` present, then asks ``dvc status``; nothing changed -> an "up to date" artifact, stop.
  ``data.dvc``'s md5 before and after the run says whether the data changed (DVC rewrites it
  silently when data/ moved).
- Overlapping runs wait: a project lock (also taken by ``pose pipeline run``) and a deployment
  concurrency limit of 1.
- MLflow: one parent run per flow run; every stage process logs a child run under it.

``python flows/train_pose.py serve`` starts a local Prefect server on 127.0.0.1 (``--host`` to
listen elsewhere, with a warning; a free port, ``PREFECT_HOME`` inside the project) and serves
deployment ``train-pose/train-pose`` with the cron of ``params/schedule.yaml``;
``python flows/train_pose.py run`` runs the flow once, directly.
(No ``from __future__ import annotations`` here: deployment runs need the pydantic model resolved.)
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from pose import tracking
from pose.config import DataParams, load_params
from pose.pipeline import run as pipe
from pose.pipeline.params import ScheduleParams, set_params
from pose.pipeline.prepare import ensure_data

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ("train_detector", "train_pose")
DEPLOYMENT = "train-pose"
API_URL_FILE = ".prefect/api_url"


class RunOptions(BaseModel):
    """What a run may change before reproducing (all optional)."""

    data_source: Optional[str] = Field(None, description="params/data.yaml:source (synth, coco, dlc, ...)")
    data_path: Optional[str] = Field(None, description="params/data.yaml:path, under data/")
    pose_preset: Optional[str] = Field(None, description="params/pose.yaml:model.preset")
    detector_preset: Optional[str] = Field(None, description="params/detector.yaml:preset")
    set_params: list[str] = Field(default_factory=list, description="FILE:KEY=VALUE overrides, e.g. params/pose.yaml:train.epochs=5")
    force: bool = Field(False, description="reproduce even when DVC reports nothing changed")
    only_if_changed: bool = Field(True, description="stop with 'up to date' when nothing changed")

    def assignments(self) -> list[str]:
        named = {"params/data.yaml:source": self.data_source, "params/data.yaml:path": self.data_path,
                 "params/pose.yaml:model.preset": self.pose_preset, "params/detector.yaml:preset": self.detector_preset}
        return [f"{k}={v}" for k, v in named.items() if v is not None] + list(self.set_params)


@task(name="apply-params")
def apply_params(assignments: list[str]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in set_params(ROOT, assignments)]


@task(name="data")
def bootstrap_data() -> str:
    return ensure_data(ROOT, load_params(ROOT / "params/data.yaml", DataParams))


@task(name="dvc-status")
def changes() -> dict[str, Any]:
    return pipe.status(ROOT)


@task(name="stage")
def stage(name: str, force: bool = False) -> str:
    """``dvc repro -s [-f] NAME``; the flow fails with this stage's error text."""
    out = pipe.repro_stage(name, ROOT, force=force)
    get_run_logger().info("%s:\n%s", name, "\n".join(out.strip().splitlines()[-15:]))
    return "skipped (unchanged)" if "didn't change, skipping" in out else "ran"


def _table(rows: dict[str, Any]) -> str:
    return "| | |\n|---|---|\n" + "".join(f"| {k} | {v:.4g} |\n" if isinstance(v, float) else f"| {k} | {v} |\n" for k, v in rows.items())


def summary_markdown(outcome: dict[str, Any]) -> str:
    """The run's artifact: what ran, data hashes, metrics, and the registry decision."""
    parts = [f"# train-pose: {outcome['status']}\n", _table({"data md5 before": outcome.get("data_before"),
             "data md5 after": outcome.get("data_after"), "seconds": outcome.get("seconds")})]
    if outcome.get("stages"):
        parts += ["\n## Stages\n", _table(outcome["stages"])]
    if outcome.get("metrics"):
        parts += ["\n## Metrics (build/eval/metrics.json)\n", _table(outcome["metrics"])]
    published = outcome.get("publish") or {}
    for decision in (published.get("decision"), (published.get("detector") or {}).get("decision")):
        if decision:
            parts += [f"\n## Registry: {decision.get('name')}\n",
                      _table({k: decision.get(k) for k in ("name", "version", "verdict", "reason", "metric", "champion_metric")})]
    if outcome.get("changes"):
        parts += ["\n## Changes (dvc status)\n", "```\n" + json.dumps(outcome["changes"], indent=1)[:3000] + "\n```\n"]
    return "\n".join(parts)


@flow(name="train-pose", log_prints=True)
def train_pose(options: RunOptions = RunOptions()) -> dict[str, Any]:
    """Reproduce the DVC pipeline stage by stage (or stop when nothing changed)."""
    t0 = time.perf_counter()
    sched = load_params(ROOT / "params/schedule.yaml", ScheduleParams)
    with pipe.pipeline_lock(ROOT):
        changed_files = apply_params(options.assignments()) if options.assignments() else []
        bootstrap_data()
        before = pipe.data_md5(ROOT)
        pending = changes()
        outcome: dict[str, Any] = {"data_before": before, "changes": pending, "params_changed": changed_files}
        if not pending and options.only_if_changed and not options.force:
            outcome.update(status="up to date", data_after=before, seconds=round(time.perf_counter() - t0, 2))
            create_markdown_artifact(summary_markdown(outcome), key="train-pose-summary", description="nothing changed")
            return outcome
        tags = {"pose.trigger": "prefect", "prefect.flow_run_id": str(flow_run.id or ""), "prefect.run_name": str(flow_run.name or "")}
        with tracking.start_pipeline_run("pipeline", root=ROOT, tags=tags) as parent:
            ran = {}
            for name in pipe.STAGES:
                opts: dict[str, Any] = {"task_run_name": name}
                if name in TRAINING:
                    opts.update(retries=sched.retries, retry_delay_seconds=sched.retry_delay_s)
                ran[name] = stage.with_options(**opts)(name, options.force)
            after = pipe.data_md5(ROOT)
            metrics = pipe.read_json_if(ROOT / pipe.METRICS) or {}
            parent.log_metrics(metrics)
            parent.set_tags({"pose.data_changed": str(before != after).lower()})
            parent.log_pipeline_files()
    outcome.update(status="retrained", data_after=after, stages=ran, metrics=metrics,
                   publish=pipe.read_json_if(ROOT / pipe.PUBLISH_RESULT), seconds=round(time.perf_counter() - t0, 2))
    create_markdown_artifact(summary_markdown(outcome), key="train-pose-summary", description="metrics and registry decision")
    return outcome


# --------------------------------------------------------------------------- serving
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"Prefect server at {url} not healthy after {timeout:.0f} s")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false"})
    return env


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def host_warning(host: str) -> str | None:
    """The warning printed when a server is asked to listen beyond this machine (``--host``)."""
    if host in LOOPBACK:
        return None
    return (f"warning: the Prefect server will listen on {host}: anyone who can reach this machine can see and trigger "
            "runs (it has no authentication); prefer 127.0.0.1 and an SSH tunnel")


def server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """``prefect server start`` on ``host:port`` (an argument list, never a shell string)."""
    return [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", host, "--port", str(port)]


def _die_with_parent() -> None:
    """In the server process before exec (Linux): SIGTERM when ``serve`` dies, so no orphan
    server keeps the port."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(port: int | None = None, host: str = "127.0.0.1") -> None:
    """Start a local server, then serve the deployment with its cron until interrupted."""
    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sched = load_params(ROOT / "params/schedule.yaml", ScheduleParams)
    port = port or free_port()
    url = f"http://{host if host not in (*LOOPBACK, '0.0.0.0', '::') else '127.0.0.1'}:{port}/api"
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    env = server_env()
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    # Its own session: Ctrl-C or a signal to serve's group reaches serve alone, which then pauses
    # the deployment through the still running server and stops it (finally, below).
    server = subprocess.Popen(server_command(port, host), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              start_new_session=True, preexec_fn=_die_with_parent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_healthy(url)
        (ROOT / API_URL_FILE).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / API_URL_FILE).write_text(url + "\n", "utf-8")
        print(f"Prefect server: {url} (UI: http://127.0.0.1:{port}); trigger: "
              f"PREFECT_API_URL={url} prefect deployment run {train_pose.name}/{DEPLOYMENT}", flush=True)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            train_pose.serve(name=DEPLOYMENT, schedule=Cron(sched.cron, timezone=sched.timezone), limit=1, global_limit=1,
                             parameters={"options": RunOptions(only_if_changed=sched.only_if_changed).model_dump()},
                             description="Retrain when data or params changed (dvc status), publish, gate the champion.")
    finally:
        (ROOT / API_URL_FILE).unlink(missing_ok=True)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="local server + deployment with the cron schedule")
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--host", default="127.0.0.1", help="listen address; anything but loopback prints a warning")
    r = sub.add_parser("run", help="one direct run (temporary server)")
    r.add_argument("--force", action="store_true")
    r.add_argument("--set", dest="set_params", action="append", default=[], help="FILE:KEY=VALUE")
    a = p.parse_args(argv)
    if a.cmd == "serve":
        serve(a.port, a.host)
    else:
        print(json.dumps(train_pose(RunOptions(force=a.force, set_params=a.set_params)), indent=2, default=str))


if __name__ == "__main__":
    main()
