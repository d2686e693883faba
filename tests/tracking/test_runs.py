"""MLflow runs on a real sqlite store: nested runs, the engine callback, pipeline files, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from pose import tracking
from pose.engine.trainer import Task, fit
from pose.params import TrainParams

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY-d41d8cd98f"


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
            fit(tiny_task(), TrainParams(epochs=2, lr=0.01, warmup_iters=0, min_lr_ratio=0.0, ema=False, channels_last=False), work_dir=root / "work", device=torch.device("cpu"),
                callbacks=tracking.callbacks(run), show_progress=False)
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


def test_parent_run_carries_every_params_file_and_experiment_opens_on_runs(root: Path) -> None:
    (root / "params").mkdir()
    for f in ("pose.yaml", "detector.yaml", "eval.yaml"):
        (root / "params" / f).write_text((Path(__file__).parents[2] / "params" / f).read_text())
    with tracking.start_pipeline_run(root=root) as parent:
        pass
    c = tracking.client(root)
    params = c.get_run(parent.run_id).data.params
    pose, det = (yaml.safe_load((root / "params" / f).read_text()) for f in ("pose.yaml", "detector.yaml"))
    assert params["pose.model.preset"] == pose["model"]["preset"] and params["pose.train.lr"] == str(pose["train"]["lr"]), sorted(params)[:20]
    assert params["detector.preset"] == det["preset"] and "pose.model.input_size" in params and any(k.startswith("eval.") for k in params), sorted(params)
    exp = c.get_experiment_by_name(tracking.DEFAULT_EXPERIMENT)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    c.delete_experiment_tag(exp.experiment_id, "mlflow.experimentKind")
    tracking.experiment_id(root=root)  # an experiment made before the tag existed gets it on next use
    assert c.get_experiment(exp.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"


def test_data_input_digest_is_dvcs_md5(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data.dvc").write_text("outs:\n- md5: 97c630b10d71845bb7a8e1f3a010ab50.dir\n  hash: md5\n  path: data\n")
    with tracking.stage_run("train_pose", root=root) as run:
        run.log_data_input("training")
    inputs = tracking.client(root).get_run(run.run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("data", "97c630b10d71845bb7a8e1f3a010ab50.dir")]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


def test_training_runs_sample_system_metrics(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time as _time

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    monkeypatch.setenv(tracking.ROOT_ENV, str(root))
    with tracking.tracked("train_pose", True, with_system_metrics=True) as run:
        _time.sleep(1.5)
    keys = set(tracking.client(root).get_run(run.run_id).data.metrics)
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= keys, keys
