"""MLflow tracking on a real sqlite store: URIs, names, nested runs, the engine callback, no secrets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from pose import tracking
from pose.engine.trainer import OptimSettings, Task, fit

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY-d41d8cd98f"


@pytest.fixture(autouse=True)
def _no_outside_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised store without experiments (creating the sqlite schema takes seconds): copied per test."""
    root = tmp_path_factory.mktemp("template")
    tracking.client(root).search_experiments()
    return root / "mlruns"


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "mlruns")
    return tmp_path


def test_uri_follows_root_env_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking.tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.chdir(tmp_path / "mlruns")
    assert tracking.tracking_uri() == f"sqlite:///{(tmp_path / 'mlruns').resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv(tracking.ROOT_ENV, str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.tracking_uri() == "http://127.0.0.1:5999"
    assert tracking.tracking_uri(tmp_path).startswith("sqlite:///"), "an explicit root wins"


def test_root_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "build" / "eval").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "build" / "eval")
    assert tracking.project_root() == tmp_path.resolve()
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert not (tmp_path / "build" / "eval" / "mlruns").exists()


def test_pipeline_files_are_logged(root: Path) -> None:
    (root / "params").mkdir()
    (root / "params" / "pose.yaml").write_text("train:\n  lr: 0.001\n")
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    with tracking.start_pipeline_run(root=root) as parent:
        parent.log_pipeline_files()
    c = tracking.client(root)
    listed = {f.path for f in c.list_artifacts(parent.run_id, "pipeline")} | {f.path for f in c.list_artifacts(parent.run_id, "pipeline/params")}
    assert {"pipeline/dvc-pipeline.yaml", "pipeline/dvc.lock", "pipeline/params/pose.yaml"} <= listed, listed
    assert not list(root.rglob("mlruns/**/dvc.yaml")), "no file DVC would take for a pipeline"
    local = tracking.local_artifacts(c.get_run(parent.run_id).info.artifact_uri)
    assert (local / "pipeline" / "params" / "pose.yaml").read_text() == "train:\n  lr: 0.001\n"


def test_names_and_secret_keys() -> None:
    assert tracking.metric_key("PCK@0.05") == "PCK_0.05" and tracking.metric_key("AP") == "AP"
    for key in ("AWS_SECRET_ACCESS_KEY", "api_key", "apiKey", "db.password", "hf_token", "credentials"):
        assert tracking.is_secret_key(key), key
    for key in ("num_keypoints", "keypoint_weights", "model.preset", "train.lr", "monkey"):
        assert not tracking.is_secret_key(key), key
    flat = tracking.flatten_params({"train": {"lr": 0.01, "milestones": [3, 5]}, "aug": {}, "s3": {"secret_key": "x"}})
    assert flat == {"train.lr": "0.01", "train.milestones": "[3, 5]", "aug": "{}"}


def test_lineage_reads_dvc_lock_and_params(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "pose.yaml").write_text("lr: 1\n")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  prepare:\n    cmd: pose data prepare\n    deps:\n    - path: data\n"
        "      hash: md5\n      md5: 0123abcd.dir\n    outs:\n    - path: build/dataset\n      md5: ffff.dir\n")
    tags = tracking.lineage_tags(tmp_path)
    assert tags["pose.data_hash"] == "0123abcd.dir" and tags["pose.git_commit"] == "unknown"
    before = tags["pose.params_hash"]
    (tmp_path / "params" / "pose.yaml").write_text("lr: 2\n")
    assert tracking.lineage_tags(tmp_path)["pose.params_hash"] != before


def tiny_task() -> Task:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    batches = [{"x": torch.randn(4, 2), "y": torch.randn(4, 1)} for _ in range(2)]
    cfg = {"kind": "pose", "preset": "rtmpose-t", "meta": {"name": "coco"}, "input_size": [64, 64], "num_keypoints": 17,
           "params": {"train": {"lr": 0.01, "epochs": 2}, "model": {"preset": "rtmpose-t"}, "cloud": {"api_token": SECRET}}}
    return Task(model=model, loss=lambda m, b: {"loss": ((m(b["x"]) - b["y"]) ** 2).mean()}, loaders=lambda e: batches,
                iters_per_epoch=2, evaluate=lambda m: {"AP": 0.5, "PCK@0.05": 0.25}, best_metric="AP", config=cfg)


@pytest.mark.slow
def test_nested_runs_callback_and_no_secrets(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with tracking.start_pipeline_run(root=root) as parent:
        assert tracking.PARENT_ENV in __import__("os").environ
        with tracking.stage_run("train_pose", root=root, params={"aws_secret_access_key": SECRET}) as run:
            fit(tiny_task(), OptimSettings(epochs=2, lr=0.01), work_dir=root / "work", device=torch.device("cpu"),
                callbacks=[run.callback()], show_progress=False)
        with pytest.raises(RuntimeError), tracking.stage_run("evaluate", root=root) as failing:
            raise RuntimeError("boom")
    assert tracking.PARENT_ENV not in __import__("os").environ
    c = tracking.client(root)
    child = c.get_run(run.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent.run_id and child.info.status == "FINISHED"
    assert c.get_run(failing.run_id).info.status == "FAILED" and c.get_run(parent.run_id).info.status == "FINISHED"
    assert child.data.params["train.lr"] == "0.01" and child.data.params["model.preset"] == "rtmpose-t"
    assert child.data.params["resolved.num_keypoints"] == "17"
    assert not any("secret" in k or "token" in k for k in child.data.params)
    assert [m.step for m in c.get_metric_history(run.run_id, "PCK_0.05")] == [1, 2]
    assert child.data.metrics["best_AP"] == 0.5
    tags = child.data.tags
    assert tags["pose.best_checkpoint"] == str((root / "work" / "best.pth").resolve())
    assert tags["pose.dataset"] == "coco" and tags["pose.preset"] == "rtmpose-t" and tags["sys.device"] == "cpu"
    for key in ("pose.git_commit", "pose.data_hash", "pose.params_hash"):
        assert key in tags and key in c.get_run(parent.run_id).data.tags
    (root / "summary.txt").write_text("AP 0.5\n")
    run.log_artifact(root / "summary.txt")
    store = [p for p in (root / "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "summary.txt" for p in store) and any(p.name == "mlflow.db" for p in store)
    leaked = [p for p in store if SECRET.encode() in p.read_bytes()]
    assert not leaked, f"secret written to {leaked}"
