"""Prefect flow ``train-pose``: ``pose.pipeline.run.run_pipeline`` (the run ``pose pipeline run``
does too) with its steps as Prefect tasks: one task per DVC stage, each running ``dvc repro -s
STAGE``, so DVC's cache and ``dvc.lock`` stay the record and a Prefect run can never disagree with
``dvc repro``.

- Parameters (``RunOptions``, pydantic): data source / presets / any ``FILE:KEY=VALUE`` params
  override, written into ``params/*.yaml`` (validated), as ``dvc exp run -S`` does.
- Scheduled retraining: with ``only_if_changed`` (the deployment's default) a run with nothing
  changed (``dvc status``) stops "up to date"; the training stages retry as
  ``params/schedule.yaml`` says, and every stage task has its timeout from there. Overlapping runs wait: the project lock and a deployment
  concurrency limit of 1. One MLflow parent run per flow run, a child run per stage.
- The summary (stages, metrics, registry decision, a link to the MLflow parent run) is the markdown
  artifact ``train-pose-summary``.

``python flows/train_pose.py serve`` (``make serve``) starts a local Prefect server
(``pose.pipeline.prefect_server``; 127.0.0.1 unless ``--host``, with a warning) and serves deployment
``train-pose/train-pose`` with the cron of ``params/schedule.yaml`` in this one process; ``prefect.yaml``
deploys the same deployment to the process work pool ``posepipe-process`` instead (``make server``,
``make deploy``, ``make worker``; ``pose.pipeline.deployment``); ``python flows/train_pose.py run``
runs the flow once, directly.
(No ``from __future__ import annotations`` here: deployment runs need the pydantic model resolved.)
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from pose.pipeline.deployment import DEPLOYMENT, DESCRIPTION, FLOW, default_parameters
from pose.pipeline.dvc import repro_stage, stage_names, stage_outcome
from pose.pipeline.prefect_server import free_port, host_warning, local_server
from pose.pipeline.run import RunOptions, Steps, load_schedule, run_pipeline
from pose.pipeline.summary import summary_markdown

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ("train_detector", "train_pose")
DIRECT = Steps()


@task(name="apply-params")
def apply_params(root: Path, assignments: list[str]) -> list[str]:
    return DIRECT.set_params(root, assignments)


@task(name="data")
def bootstrap_data(root: Path) -> str:
    return DIRECT.ensure_data(root)


@task(name="dvc-status")
def changes(root: Path) -> dict[str, Any]:
    return DIRECT.status(root)


@task(name="stage")
def stage(name: str, force: bool, root: Path) -> str:
    """``dvc repro -s [-f] NAME``; the flow fails with this stage's error text."""
    out = repro_stage(name, root, force=force)
    get_run_logger().info("%s:\n%s", name, "\n".join(out.strip().splitlines()[-15:]))
    return stage_outcome(out)


class PrefectSteps(Steps):
    """``run_pipeline``'s steps as tasks: one task run per ``dvc.yaml`` stage, training retried."""

    def __init__(self, retries: int, retry_delay_s: list[float], stage_timeout_s: float = 3600.0,
                 training_timeout_s: float = 43200.0) -> None:
        super().__init__()
        self.retry = {"retries": retries, "retry_delay_seconds": retry_delay_s, "timeout_seconds": training_timeout_s}
        self.timeout = {"timeout_seconds": stage_timeout_s}

    def set_params(self, root: Path, assignments: Sequence[str]) -> list[str]:
        return apply_params(root, list(assignments))

    def ensure_data(self, root: Path) -> str:
        return bootstrap_data(root)

    def status(self, root: Path) -> dict[str, Any]:
        return changes(root)

    def repro(self, root: Path, stages: Sequence[str], force: bool) -> dict[str, str]:
        return {name: stage.with_options(task_run_name=name, **(self.retry if name in TRAINING else self.timeout))(name, force, root)
                for name in stages or stage_names(root)}


@flow(name=FLOW, log_prints=True)
def train_pose(options: RunOptions = RunOptions()) -> dict[str, Any]:
    """Reproduce the DVC pipeline stage by stage (or stop when nothing changed)."""
    sched = load_schedule(ROOT)
    result = run_pipeline(ROOT, force=options.force, only_if_changed=options.only_if_changed, assignments=options.assignments(),
                          bootstrap=True, steps=PrefectSteps(sched.retries, sched.retry_delay_s, sched.stage_timeout_s, sched.training_timeout_s), trigger="prefect",
                          tags={"prefect.flow_run_id": str(flow_run.id or ""), "prefect.run_name": str(flow_run.name or "")})
    create_markdown_artifact(summary_markdown(result), key="train-pose-summary",
                             description="nothing changed" if result["up_to_date"] else "metrics and registry decision")
    return result


def serve(port: int | None = None, host: str = "127.0.0.1") -> None:
    """Start a local server, then serve the deployment with its cron until interrupted."""
    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sched = load_schedule(ROOT)
    port = port or free_port()
    warning = host_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    with local_server(ROOT, port, host) as url:
        print(f"Prefect server: {url} (UI: http://127.0.0.1:{port}); trigger: "
              f"PREFECT_API_URL={url} prefect deployment run {train_pose.name}/{DEPLOYMENT}", flush=True)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            train_pose.serve(name=DEPLOYMENT, schedule=Cron(sched.cron, timezone=sched.timezone), limit=1, global_limit=1,
                             parameters=default_parameters(sched), description=DESCRIPTION)


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
