"""What the MLflow UI's run comparison shows, through the REST API of a real ``mlflow ui`` server:
``runs/search`` returns the parent run's params of every params file and the training child run's
params (``model.preset``, ``train.lr``) and metrics (``AP``, ``PCK_0.05``) side by side."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pose import tracking

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(url: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(url, method="POST" if body is not None else "GET", headers={"Content-Type": "application/json"},
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _pipeline_runs(root: Path) -> tuple[str, str]:
    shutil.copytree(REPO / "params", root / "params")
    cfg = {"preset": "rtmpose-t", "meta": {"name": "coco"}, "params": {"model": {"preset": "rtmpose-t"}, "train": {"lr": 0.004}},
           "init": {"pretrained": "imagenet", "pretrained_file": None, "load_from": None}}
    with tracking.start_pipeline_run(root=root) as parent:
        with tracking.stage_run("train_pose", root=root) as child:
            callback = tracking.callbacks(child)[0]
            callback.on_train_start({"config": cfg})
            callback.on_epoch_end(1, {"AP": 0.5, "PCK@0.05": 0.25, "loss": 1.0})
        parent.log_metrics({"AP": 0.5, "PCK@0.05": 0.25})
    return parent.run_id, child.run_id


def test_runs_search_shows_params_and_metrics_side_by_side(root: Path) -> None:
    parent_id, child_id = _pipeline_runs(root)
    port = _free_port()
    ui = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri", tracking.tracking_uri(root),
                           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=root,
                          env={**__import__("os").environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base, deadline = f"http://127.0.0.1:{port}/api/2.0/mlflow", time.monotonic() + 120
        while True:
            try:
                exp = _call(f"{base}/experiments/get-by-name?experiment_name={tracking.DEFAULT_EXPERIMENT}")["experiment"]
                break
            except OSError:
                assert ui.poll() is None and time.monotonic() < deadline, "mlflow ui did not come up"
                time.sleep(0.5)
        assert {"key": "mlflow.experimentKind", "value": "custom_model_development"} in exp["tags"]
        runs = {r["info"]["run_id"]: r for r in _call(f"{base}/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]}
        params = {rid: {p["key"]: p["value"] for p in r["data"].get("params", [])} for rid, r in runs.items()}
        metrics = {rid: {m["key"] for m in r["data"].get("metrics", [])} for rid, r in runs.items()}
        assert params[child_id]["model.preset"] == "rtmpose-t" and params[child_id]["train.lr"] == "0.004"
        assert params[parent_id]["pose.model.preset"] and params[parent_id]["pose.train.lr"] and params[parent_id]["detector.preset"]
        assert {"AP", "PCK_0.05"} <= metrics[child_id] and {"AP", "PCK_0.05"} <= metrics[parent_id], metrics
        tags = {t["key"]: t["value"] for t in runs[child_id]["data"]["tags"]}
        assert tags["pose.init.pretrained"] == "imagenet"  # where the weights started, beside the params
    finally:
        ui.terminate()
        ui.wait(timeout=30)
