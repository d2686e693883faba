"""The real Prefect flow ``train-pose`` on a minimal DVC repo (tests/faults/prefect_driver.py):
a failing training stage is retried as params/schedule.yaml says; a permanent failure marks the
flow failed with the stage's own error text; a flow SIGKILLed mid-stage leaves dvc.lock without
that stage, and the next ``dvc repro`` re-runs only it and completes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from faults.support import BIN, child_env, finish, kill_group, locked_stages, make_dvc_repo, set_plan, start, wait_for

pytestmark = pytest.mark.slow
DRIVER = Path(__file__).with_name("prefect_driver.py")


def test_retries_permanent_failure_and_kill_mid_stage(tmp_path: Path) -> None:
    repo = make_dvc_repo(tmp_path / "repo", stages=("train_detector", "train_pose"))
    (repo / "params").mkdir()
    (repo / "params/schedule.yaml").write_text(yaml.safe_dump({"retries": 1, "retry_delay_s": [0]}))
    (repo / "params/data.yaml").write_text(yaml.safe_dump({"source": "coco", "path": "data/raw"}))
    (repo / "data/raw").mkdir(parents=True)
    plans = [{"train_detector": "flaky", "train_pose": "fail"}, {"train_pose": "slow"}]
    env = child_env(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                    PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    proc = start([sys.executable, str(DRIVER), str(repo), json.dumps(plans)], repo, env)
    reached = wait_for(lambda: (repo / "running.train_pose").exists(), proc, timeout=240, poll=0.1)
    assert reached, proc.communicate()[0][-4000:]
    alive, printed = kill_group(proc)
    assert alive, "the flow ended before the kill"
    first = json.loads(next(line for line in printed.splitlines() if line.startswith("{")))
    assert first["type"] == "FAILED", first
    assert "stage 'train_pose' failed" in first["message"] and "labels are broken in train_pose" in first["message"], first

    out = (repo / "attempts.train_detector").read_text(), (repo / "attempts.train_pose").read_text()
    assert out == ("2", "3"), f"detector: flaky then retried once; pose: 2 tries (1 retry) then the killed one; got {out}"
    assert set(locked_stages(repo)) == {"train_detector"}, "dvc.lock records only the stage that finished"

    set_plan(repo)
    rc, text = finish(start([str(BIN / "dvc"), "repro"], repo))
    assert rc == 0 and "Stage 'train_detector' didn't change, skipping" in text and "Running stage 'train_pose'" in text, text
    assert set(locked_stages(repo)) == {"train_detector", "train_pose"}
    assert (repo / "b.txt").read_text() == "v1\ntrain_detector\ntrain_pose\n"

