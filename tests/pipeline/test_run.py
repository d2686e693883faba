"""``run_pipeline``, the one run the CLI and the Prefect flow share, on real DVC repos (and a real
MLflow store for the runs that reproduce)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from pose import tracking
from pose.pipeline import dvc as pipe
from pose.pipeline.run import RunOptions, Steps, run_pipeline


@pytest.fixture(autouse=True)
def _no_outside_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)


def _repo(root: Path, stages: dict[str, Any]) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    assert pipe.dvc(["init", "-q"], root).returncode == 0
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    (root / "data").mkdir()
    (root / "data" / "in.txt").write_text("v1\n")
    assert pipe.dvc(["add", "data"], root).returncode == 0
    return root


class Recorded(Steps):
    """Direct steps that note what ran, in order (the flow's runner is such a subclass)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def set_params(self, root: Path, assignments: Sequence[str]) -> list[str]:
        self.calls.append(f"set_params {list(assignments)}")
        return ["params/eval.yaml"]

    def ensure_data(self, root: Path) -> str:
        self.calls.append("ensure_data")
        return "data/ present"

    def status(self, root: Path) -> dict[str, Any]:
        self.calls.append("status")
        return super().status(root)

    def repro(self, root: Path, stages: Sequence[str], force: bool) -> dict[str, str]:
        self.calls.append("repro")
        return {name: pipe.stage_outcome(pipe.repro_stage(name, root, force=force)) for name in stages or pipe.stage_names(root)}


def test_nothing_to_do_stops_up_to_date_after_params_and_data(tmp_path: Path) -> None:
    root = _repo(tmp_path, {})
    steps = Recorded()
    result = run_pipeline(root, assignments=["params/eval.yaml:flip=false"], bootstrap=True, steps=steps)
    assert steps.calls == ["set_params ['params/eval.yaml:flip=false']", "ensure_data", "status"]
    assert result["status"] == "up to date" and result["up_to_date"] and result["params_changed"] == ["params/eval.yaml"]
    assert result["data_before"] == result["data_after"] == pipe.data_md5(root) and not result["data_changed"]
    assert not (root / "mlruns").exists(), "no MLflow run when nothing ran"


def test_run_options_become_params_assignments() -> None:
    opts = RunOptions(data_source="dlc", data_path="data/mice", pose_preset="rtmpose-s", set_params=["params/eval.yaml:flip=false"])
    assert opts.assignments() == ["params/data.yaml:source=dlc", "params/data.yaml:path=data/mice",
                                  "params/pose.yaml:model.preset=rtmpose-s", "params/eval.yaml:flip=false"]
    assert RunOptions().assignments() == []


@pytest.mark.slow
def test_both_runners_log_one_parent_run_tagged_with_the_data_md5(tmp_path: Path) -> None:
    stages = {"make": {"cmd": "python3 -c \"open('out.txt', 'w').write(open('data/in.txt').read())\"", "deps": ["data"], "outs": ["out.txt"]},
              "use": {"cmd": "python3 -c \"open('use.txt', 'w').write('used')\"", "deps": ["out.txt"], "outs": ["use.txt"]}}
    root = _repo(tmp_path, stages)
    cli = run_pipeline(root)
    assert cli["status"] == "retrained" and cli["stages"] == {} and (root / "use.txt").read_text() == "used"
    assert run_pipeline(root)["up_to_date"], "a second run finds nothing changed"

    steps = Recorded()
    flow = run_pipeline(root, force=True, steps=steps, trigger="prefect", tags={"prefect.run_name": "brave-otter"})
    assert steps.calls == ["status", "repro"] and flow["stages"] == {"make": "ran", "use": "ran"}

    c = tracking.client(root)
    runs = c.search_runs([tracking.experiment_id(root=root)], order_by=["attributes.start_time ASC"])
    assert [(r.info.run_name, r.info.status, r.data.tags["pose.trigger"]) for r in runs] == [
        ("pipeline", "FINISHED", "cli"), ("pipeline", "FINISHED", "prefect")]
    for r in runs:
        assert r.data.tags["pose.data_md5"] == pipe.data_md5(root) and r.data.tags["pose.data_changed"] == "false"
    assert runs[1].data.tags["prefect.run_name"] == "brave-otter"


@pytest.mark.slow
def test_a_failing_stage_fails_the_parent_run_with_its_record(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"boom": {"cmd": "python3 -c \"raise SystemExit('labels are broken')\"", "deps": ["data"]}})
    with pytest.raises(pipe.StageFailed, match="dvc repro failed"):
        run_pipeline(root)
    (run,) = tracking.client(root).search_runs([tracking.experiment_id(root=root)])
    assert run.info.status == "FAILED" and run.data.tags["pose.data_md5"] == pipe.data_md5(root)
    assert "pipeline/dvc-pipeline.yaml" in {f.path for f in tracking.client(root).list_artifacts(run.info.run_id, "pipeline")}
