"""The work-pool way (README, "Scheduled retraining"): ``make server`` (``pose pipeline server``),
``make deploy`` (``pose pipeline deploy``: the process pool, then ``prefect deploy`` from the
repo's ``prefect.yaml``), ``make worker`` (``prefect worker start --pool posepipe-process``) and
``prefect deployment run train-pose/train-pose --watch``, all real processes on a tiny fresh repo:
the worker runs the whole pipeline, and the deployment carries params/schedule.yaml's schedule (the
server's scheduler has put runs on it)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim  # installed with prefect (via pydocket)
from e2e.support import BIN, make_tiny_repo, prefect_env, run, start, stop, trigger, wait_api_url

from pose.params import ScheduleParams, load_params
from pose.pipeline.deployment import DEPLOYMENT, FLOW, WORK_POOL
from pose.pipeline.prefect_server import free_port

pytestmark = pytest.mark.slow
LIGHT_PUBLISH = ["params/publish.yaml:onnx=false", "params/publish.yaml:registry=false"]


async def _read(api: str) -> tuple[Any, list[Any]]:
    """The deployment and its flow runs, through Prefect's client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        async with get_client() as client:
            dep = await client.read_deployment_by_name(f"{FLOW}/{DEPLOYMENT}")
            runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
    return dep, runs


def _on_cron(sched: ScheduleParams, t: datetime) -> bool:
    """Whether ``t`` is an instant of ``sched``'s cron in its timezone."""
    local = datetime.fromtimestamp(t.timestamp(), ZoneInfo(sched.timezone))
    return next(CronSim(sched.cron, local - timedelta(minutes=1))).timestamp() == local.timestamp()


def test_work_pool_deployment_runs_the_pipeline_on_a_process_worker(tmp_path: Path) -> None:
    root = make_tiny_repo(tmp_path / "repo")
    t0 = time.perf_counter()
    server = start([str(BIN / "pose"), "pipeline", "server", "--port", str(free_port())], root, tmp_path / "server.log")
    worker = None
    try:
        api = wait_api_url(root, server, tmp_path / "server.log")
        deployed = run([str(BIN / "pose"), "pipeline", "deploy"], root)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        again = run([str(BIN / "pose"), "pipeline", "deploy"], root)  # the pool exists now: deploying again is fine
        assert again.returncode == 0 and "(created)" in deployed.stdout and "(created)" not in again.stdout, again.stdout + again.stderr
        ready_s = time.perf_counter() - t0
        worker = start([str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL], root, tmp_path / "worker.log",
                       env=prefect_env(root, api, PREFECT_WORKER_QUERY_SECONDS="2"))
        # A run's parameters reach the worker's run (and no ONNX export or registry: the other e2e tests cover publish).
        result, run_s = trigger(root, api, {"options": {"set_params": LIGHT_PUBLISH}})
        assert result.returncode == 0 and "Completed" in result.stdout, (result.stdout + result.stderr)[-3000:] + \
            (tmp_path / "worker.log").read_text()[-3000:]
        print(f"\nserver + pool + deployment (twice) ready {ready_s:.1f} s; triggered run on the worker {run_s:.1f} s")
        dep, flow_runs = asyncio.run(_read(api))
    finally:
        stop(worker)
        stop(server)
    assert not (root / ".prefect" / "api_url").exists()  # the server stopped cleanly

    sched = load_params(root / "params/schedule.yaml", ScheduleParams)
    assert [(s.schedule.cron, s.schedule.timezone) for s in dep.schedules] == [(sched.cron, sched.timezone)]
    assert dep.work_pool_name == WORK_POOL and dep.global_concurrency_limit.limit == 1
    assert dep.concurrency_options.collision_strategy == "ENQUEUE"
    assert dep.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(root.resolve())}}]
    assert dep.parameters["options"]["only_if_changed"] is sched.only_if_changed
    done = [r for r in flow_runs if r.state_type.value != "SCHEDULED"]
    assert [(r.state_type.value, r.work_pool_name) for r in done] == [("COMPLETED", WORK_POOL)]
    upcoming = [r.expected_start_time for r in flow_runs if r.state_type.value == "SCHEDULED"]
    assert upcoming and all(_on_cron(sched, t) for t in upcoming), upcoming

    assert (root / "dvc.lock").is_file() and (root / "build/eval/metrics.json").is_file()
    assert (root / "build/publish/publish.json").is_file() and not list((root / "build/publish").glob("*.onnx"))
    assert "registry: false" in (root / "params/publish.yaml").read_text()  # written by the run, in this folder
    from pose import tracking

    c = tracking.client(root)
    exp = c.get_experiment_by_name("posepipe")
    parents = c.search_runs([exp.experiment_id], "tags.`pose.trigger` = 'prefect'")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert parents[0].data.tags["prefect.flow_run_id"] == str(done[0].id)
