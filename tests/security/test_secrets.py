"""Cloud and tracking credentials in the environment (as a DVC remote or an MLflow server needs
them) never reach the MLflow store: a pipeline run, a training stage with the engine callback,
an artifact and a registered model are logged, then every stored byte is scanned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from pose import tracking
from pose.data.meta import load_meta
from pose.engine.checkpoint import save_checkpoint
from pose.engine.trainer import Task, fit
from pose.params import PoseParams, TrainParams
from pose.publish import registry
from pose.publish.command import publish
from pose.recipes.topdown import build_pose_model, checkpoint_config

pytestmark = pytest.mark.slow
SECRET_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY",
               "AZURE_STORAGE_CONNECTION_STRING", "GOOGLE_APPLICATION_CREDENTIALS", "MLFLOW_TRACKING_PASSWORD",
               "MLFLOW_TRACKING_TOKEN")


def _task(token: str) -> Task:
    model = nn.Linear(2, 1)
    batches = [{"x": torch.randn(4, 2), "y": torch.randn(4, 1)}]
    params = {"train": {"lr": 0.01}, "remote": {"url": "s3://bucket/cache", "secret_access_key": token, "password": token}}
    return Task(model=model, loss=lambda m, b: {"loss": ((m(b["x"]) - b["y"]) ** 2).mean()}, loaders=lambda e: batches,
                iters_per_epoch=1, evaluate=lambda m: {"AP": 0.5}, config={"preset": "rtmpose-t", "meta": {"name": "coco"}, "params": params})


def _published(root: Path) -> Path:
    params = PoseParams.model_validate({"dataset": "data/x", "model": {"preset": "rtmpose-t", "input_size": [64, 64]}})
    meta = load_meta("coco")
    model = build_pose_model(params, meta)
    save_checkpoint(root / "best.pth", {"model": model.state_dict(), "ema": None, "epoch": 1, "history": [],
                                        "config": checkpoint_config(params, meta, model)})
    return publish(root / "best.pth", root / "publish", metrics={"AP": 0.5}, lineage=tracking.lineage_tags(root), onnx=False).path


def test_credentials_in_the_environment_never_reach_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)
    token = "posepipe-secret-" + os.urandom(12).hex()
    for i, var in enumerate(SECRET_VARS):
        monkeypatch.setenv(var, f"{token}-{i}")
    root = tmp_path
    pth = _published(root)
    with tracking.start_pipeline_run(root=root, tags={"pose.trigger": "test"}):
        with tracking.stage_run("train_pose", root=root, params={"remote": {"access_key_id": token, "region": "eu-west-1"}}) as run:
            fit(_task(token), TrainParams(epochs=1, lr=0.01, warmup_iters=0, min_lr_ratio=0.0, ema=False, channels_last=False), work_dir=root / "work", device=torch.device("cpu"),
                callbacks=tracking.callbacks(run), show_progress=False)
            (root / "env.txt").write_text("device cpu\n")
            run.log_artifact(root / "env.txt")
        with tracking.stage_run("publish", root=root) as pub:
            version = registry.register(pth, root=root, run=pub)["version"]

    c = tracking.client(root)
    logged = c.get_run(run.run_id).data.params
    assert logged["train.lr"] == "0.01" and logged["remote.url"] == "s3://bucket/cache" and logged["remote.region"] == "eu-west-1"
    assert registry.aliases("coco-pose", root=root) == {"challenger": version}
    store = [p for p in (root / "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in store) and any(p.name == "MLmodel" for p in store) and len(store) > 5
    leaked = [str(p.relative_to(root)) for p in store if token.encode() in p.read_bytes()]
    assert not leaked, f"a credential was written to {leaked}"
