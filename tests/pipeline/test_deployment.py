"""prefect.yaml and pose.pipeline.deployment without a server: the deployment's shape, its schedule
rendered from params/schedule.yaml by Prefect's own templating, and the errors of ``pose pipeline
deploy`` / ``server``. The real deploy + worker run is tests/e2e/test_prefect_workpool.py."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pose.pipeline.deployment import DEPLOYMENT, FLOW, WORK_POOL, default_parameters, project_settings
from pose.pipeline.prefect_server import free_port, running_url
from pose.pipeline.run import load_schedule

ROOT = Path(__file__).resolve().parents[2]


def _prefect_yaml() -> dict:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def test_prefect_yaml_declares_the_train_pose_deployment_on_the_process_pool() -> None:
    cfg = _prefect_yaml()
    (dep,) = cfg["deployments"]
    assert dep["name"] == DEPLOYMENT and dep["work_pool"] == {"name": WORK_POOL}
    assert dep["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    path, func = dep["entrypoint"].split(":")
    tree = ast.parse((ROOT / path).read_text())
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func]
    assert any(isinstance(d, ast.Call) and ast.unparse(d.func) == "flow" and
               any(k.arg == "name" and ast.unparse(k.value) == "FLOW" for k in d.keywords) for d in fn.decorator_list)
    assert cfg["build"] == [{"pose.pipeline.deployment.project_settings": {"id": "project"}}]
    assert cfg["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ project.root }}"}}]
    # No second copy of the schedule: only the build step's output fills it.
    assert dep["schedules"] == [{"cron": "{{ project.cron }}", "timezone": "{{ project.timezone }}"}]
    assert load_schedule(ROOT).cron not in (ROOT / "prefect.yaml").read_text()


def test_prefect_templating_renders_schedule_root_and_parameters_from_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.utilities.templating import apply_values

    (tmp_path / "params").mkdir()
    shutil.copy(ROOT / "params/schedule.yaml", tmp_path / "params/schedule.yaml")
    text = (tmp_path / "params/schedule.yaml").read_text().replace('cron: "0 3 * * 1"', 'cron: "30 4 * * 2"')
    (tmp_path / "params/schedule.yaml").write_text(text.replace("only_if_changed: true", "only_if_changed: false"))
    monkeypatch.chdir(tmp_path)
    outputs = {"project": project_settings()}
    cfg = _prefect_yaml()
    dep = apply_values(cfg["deployments"][0], outputs)
    assert dep["schedules"] == [{"cron": "30 4 * * 2", "timezone": "UTC"}]
    assert dep["parameters"] == default_parameters(load_schedule(tmp_path))
    assert dep["parameters"]["options"]["only_if_changed"] is False and isinstance(dep["description"], str)
    assert apply_values(cfg["pull"], outputs)[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(tmp_path.resolve())


def _pose(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return subprocess.run([sys.executable, "-m", "pose.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_deploy_without_a_running_server_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    shutil.copy(ROOT / "params/schedule.yaml", tmp_path / "params/schedule.yaml")
    r = _pose(tmp_path, "pipeline", "deploy")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "prefect.yaml: missing" in r.stderr, r.stderr
    shutil.copy(ROOT / "prefect.yaml", tmp_path / "prefect.yaml")
    r = _pose(tmp_path, "pipeline", "deploy")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert ".prefect/api_url: no local Prefect server running" in r.stderr and "make server" in r.stderr, r.stderr


def test_a_stale_api_url_is_no_running_server(tmp_path: Path) -> None:
    (tmp_path / ".prefect").mkdir()
    assert running_url(tmp_path) is None
    (tmp_path / ".prefect/api_url").write_text(f"http://127.0.0.1:{free_port()}/api\n")
    assert running_url(tmp_path) is None


def test_flow_and_deployment_names_match_the_makefile() -> None:
    make = (ROOT / "Makefile").read_text()
    assert f"--pool {WORK_POOL}" in make and f"deployment run {FLOW}/{DEPLOYMENT}" in make
