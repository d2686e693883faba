"""``make serve`` + ``prefect deployment run train-pose/train-pose`` against a real local server:
a forced run reproduces every stage; a run with a params override re-runs only what depends on it (eval params -> evaluate; its
metrics are unchanged, so publish is skipped); a run with nothing changed stops
"up to date"; MLflow holds one parent run with a child per stage that ran."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from e2e.support import BIN, latest_artifact, prefect_env, run, start, stop, trigger, wait_api_url

pytestmark = pytest.mark.slow
DEPLOYMENT = "train-pose/train-pose"


def test_served_deployment_retrains_on_change_and_skips_when_up_to_date(tiny_repo: Path) -> None:
    if not (tiny_repo / "dvc.lock").is_file():
        first = run([str(BIN / "pose"), "pipeline", "run"], tiny_repo)
        assert first.returncode == 0, first.stderr[-3000:]
    log = tiny_repo / "serve.log"
    t0 = time.perf_counter()
    serve = start([sys.executable, "flows/train_pose.py", "serve"], tiny_repo, log)
    try:
        api = wait_api_url(tiny_repo, serve, log)
        env, deadline = prefect_env(tiny_repo, api), time.monotonic() + 120
        while True:
            inspect = subprocess.run([str(BIN / "prefect"), "deployment", "inspect", DEPLOYMENT], cwd=tiny_repo, env=env,
                                     capture_output=True, text=True, check=False)
            if inspect.returncode == 0:
                break
            assert time.monotonic() < deadline, inspect.stdout + inspect.stderr
            time.sleep(1)
        ready_s = time.perf_counter() - t0
        cron = yaml.safe_load((tiny_repo / "params/schedule.yaml").read_text())["cron"]
        assert repr(cron) in inspect.stdout or f'"{cron}"' in inspect.stdout, inspect.stdout

        full, full_s = trigger(tiny_repo, api, {"options": {"force": True}})
        assert full.returncode == 0 and "Completed" in full.stdout, full.stdout[-3000:] + full.stderr[-3000:]
        summary = latest_artifact(api)
        for name in ("prepare", "validate", "train_detector", "train_pose", "evaluate", "publish"):
            assert f"| {name} | ran |" in summary, summary
        assert (tiny_repo / "build/publish/publish.json").is_file()

        changed, changed_s = trigger(tiny_repo, api, {"options": {"set_params": ["params/eval.yaml:curve_points=12"]}})
        assert changed.returncode == 0 and "Completed" in changed.stdout, changed.stdout[-3000:] + changed.stderr[-3000:]
        assert len(json.loads((tiny_repo / "build/eval/pck_curve.json").read_text())) == 12
        summary = latest_artifact(api)
        assert "retrained" in summary
        assert "| train_pose | skipped (unchanged) |" in summary and "| evaluate | ran |" in summary, summary
        assert "verdict" in summary

        same, same_s = trigger(tiny_repo, api)
        assert same.returncode == 0 and "Completed" in same.stdout, same.stdout[-3000:]
        assert "up to date" in latest_artifact(api)
        print(f"\nserver+deployment ready {ready_s:.1f} s; full run {full_s:.1f} s; run with evaluate+publish {changed_s:.1f} s; up-to-date run {same_s:.1f} s")
    finally:
        stop(serve)

    from pose import tracking

    c = tracking.client(tiny_repo)
    exp = c.get_experiment_by_name("posepipe")
    parents = c.search_runs([exp.experiment_id], "tags.`pose.trigger` = 'prefect'", order_by=["attributes.start_time ASC"])
    assert len(parents) == 2 and all(p.info.status == "FINISHED" for p in parents)
    forced, changed_run = (c.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{p.info.run_id}'") for p in parents)
    assert {r.info.run_name for r in forced} == {"prepare", "validate", "train_detector", "train_pose", "evaluate", "publish"}
    names = {r.info.run_name for r in changed_run}
    assert "evaluate" in names and "train_pose" not in names, names  # metrics.json unchanged -> publish skipped too
    assert "pipeline/dvc.lock" in {f.path for f in c.list_artifacts(parents[-1].info.run_id, "pipeline")}
