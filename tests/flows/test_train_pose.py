from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flows() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_pose_flow", PROJECT / "flows" / "train_pose.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_flow_has_no_postponed_annotations() -> None:
    lines = (PROJECT / "flows/train_pose.py").read_text().splitlines()
    assert not any(line.startswith("from __future__ import annotations") for line in lines)


def test_deployment_carries_the_cron_of_schedule_yaml(flows: ModuleType) -> None:
    from prefect.schedules import Cron

    cron = yaml.safe_load((PROJECT / "params/schedule.yaml").read_text())["cron"]
    dep = flows.train_pose.to_deployment(name=flows.DEPLOYMENT, schedule=Cron(cron, timezone="UTC"), concurrency_limit=1)
    assert dep.name == "train-pose" and dep.flow_name == "train-pose"
    assert dep.schedules[0].schedule.cron == cron


def test_stage_task_fails_with_the_stage_error_text(flows: ModuleType, tmp_path: Path) -> None:
    from prefect.logging import disable_run_logger

    from pose.pipeline import dvc as pipe

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    pipe.dvc(["init", "-q"], tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train_pose": {"cmd": "python3 -c \"raise SystemExit('out of memory in epoch 3')\""}}}))
    with disable_run_logger(), pytest.raises(pipe.StageFailed, match="out of memory in epoch 3"):
        flows.stage.fn("train_pose", False, tmp_path)


@pytest.mark.slow
def test_stage_tasks_time_out_as_schedule_yaml_says(flows: ModuleType, tmp_path: Path) -> None:
    """A stage running past ``stage_timeout_s`` fails its flow run (real Prefect, temporary server)."""
    from prefect import flow

    from pose.pipeline import dvc as pipe

    assert {"stage_timeout_s", "training_timeout_s"} <= set(yaml.safe_load((PROJECT / "params/schedule.yaml").read_text()))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    pipe.dvc(["init", "-q"], tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": {"cmd": "python3 -c \"import time; time.sleep(20)\""}}}))

    @flow
    def one_stage() -> dict:
        return flows.PrefectSteps(0, [0.0], stage_timeout_s=2, training_timeout_s=60).repro(tmp_path, ["evaluate"], False)

    state = one_stage(return_state=True)
    assert state.is_failed() and "timed out" in str(state.message).lower() + repr(state.result(raise_on_failure=False)).lower(), state
