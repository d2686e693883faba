"""The MLflow registry on a real sqlite store: versions, aliases, the promotion gate, kill safety."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pose import tracking
from pose.data.meta import load_meta
from pose.engine.checkpoint import save_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.modelio.published import load_published
from pose.params import PoseParams
from pose.publish import registry
from pose.publish.command import publish
from pose.recipes.topdown import build_pose_model, checkpoint_config


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project root with its store, a published model): one store for the module's ordered story."""
    mp = pytest.MonkeyPatch()
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        mp.delenv(var, raising=False)
    root = tmp_path_factory.mktemp("project")
    params = PoseParams.model_validate({"dataset": "data/x", "model": {"preset": "rtmpose-t", "input_size": [64, 64]}})
    meta = load_meta("coco")
    torch.manual_seed(0)
    model = build_pose_model(params, meta)
    save_checkpoint(root / "best.pth", {"model": model.state_dict(), "ema": None, "epoch": 1, "history": [],
                                        "config": {**checkpoint_config(params, meta, model),
                                                   "init": {"pretrained": "imagenet", "pretrained_file": None, "load_from": None}}})
    pm = publish(root / "best.pth", root / "publish", metrics={"AP": 0.5, "PCK@0.05": 0.4},
                 lineage=tracking.lineage_tags(root), onnx=False)
    yield root, pm.path
    mp.undo()


@pytest.mark.slow
def test_register_promote_and_list(store: tuple[Path, Path]) -> None:
    root, pth = store
    v1 = registry.register(pth, root=root)
    assert v1["name"] == "coco-pose" and v1["version"] == "1"
    assert registry.aliases("coco-pose", root=root) == {"challenger": "1"}
    first = registry.promote_if_better("coco-pose", "1", 0.5, None, 0.01, root=root)
    assert first["verdict"] == "promoted" and first["reason"] == "first champion"

    v2 = registry.register(pth, root=root)
    assert registry.aliases("coco-pose", root=root) == {"champion": "1", "challenger": "2"}
    with pytest.raises(ConfigError, match="re-evaluated"):
        registry.promote_if_better("coco-pose", v2["version"], 0.6, None, 0.01, root=root)
    small = registry.promote_if_better("coco-pose", v2["version"], 0.505, 0.5, 0.01, root=root)
    assert small["verdict"] == "rejected" and registry.aliases("coco-pose", root=root)["champion"] == "1"
    big = registry.promote_if_better("coco-pose", v2["version"], 0.6, 0.5, 0.01, root=root)
    assert big["verdict"] == "promoted" and abs(big["delta"] - 0.1) < 1e-9
    assert registry.aliases("coco-pose", root=root) == {"champion": "2", "challenger": "2"}

    rows = registry.list_registry(root=root)
    assert [r["name"] for r in rows] == ["coco-pose"]
    v = {x["version"]: x for x in rows[0]["versions"]}
    assert v["2"]["aliases"] == ["challenger", "champion"] and v["2"]["gate"]["verdict"] == "promoted"
    assert v["1"]["gate"]["replaced_by"] == "2" and v["1"]["metrics"] == {"AP": 0.5, "PCK_0.05": 0.4}
    assert v["1"]["lineage"]["dataset"] == "coco" and v["1"]["lineage"]["sha256"] == load_published(pth)[2]["sha256"]
    assert "git_commit" in v["1"]["lineage"] and "params_hash" in v["1"]["lineage"]
    assert v["1"]["lineage"]["init.pretrained"] == "imagenet"
    assert "## Initialisation" in pth.with_suffix(".md").read_text() and "| init.pretrained | imagenet |" in pth.with_suffix(".md").read_text()
    assert json.loads(registry.registry_command(as_json=True, root=root)) == rows
    assert "champion=v2" in registry.registry_command(root=root)

    version, weights = registry.champion_file("coco-pose", root=root)
    assert version == "2" and hashlib.sha256(weights.read_bytes()).hexdigest() == load_published(pth)[2]["sha256"]


def test_pyfunc_serves_the_champion(store: tuple[Path, Path]) -> None:
    import mlflow

    root, pth = store
    if "champion" not in registry.aliases("coco-pose", root=root):
        registry.promote_if_better("coco-pose", registry.register(pth, root=root)["version"], 0.5, None, 0.0, root=root)
    tracking.client(root)
    loaded = mlflow.pyfunc.load_model("models:/coco-pose@champion")
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 64, 64), dtype=np.uint8)
    out = loaded.predict(x)
    kpts, scores = load_published(pth)[0].predict(torch.from_numpy(x))
    assert out.shape == (2, 17, 3)
    assert np.allclose(out[..., :2], kpts.numpy()) and np.allclose(out[..., 2], scores.numpy())


def test_incomplete_version_is_never_promoted(store: tuple[Path, Path]) -> None:
    """A version whose logging was cut short (no pose.complete tag) cannot become champion."""
    root, pth = store
    before = registry.aliases("coco-pose", root=root).get("champion")
    with tracking.stage_run("register", root=root) as run:
        uri = registry.register(pth, root=root, run=run)["model_uri"]
        c = tracking.client(root)
        half = tracking.register_version(c, uri, "coco-pose", run_id=run.run_id, tags={})
    with pytest.raises(CheckpointError, match="not fully logged"):
        registry.promote_if_better("coco-pose", half, 0.99, 0.0, 0.0, root=root)
    assert registry.aliases("coco-pose", root=root).get("champion") == before


def test_register_is_quiet_and_metrics_sit_on_the_logged_model(store: tuple[Path, Path]) -> None:
    """No MLflow warning (the pyfunc's predict is type-hinted; signature and input example kept);
    the published metrics are the logged model's metrics, not only version tags."""
    import warnings

    root, pth = store
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = registry.register(pth, root=root)
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message)[:200] for w in caught]
    model = tracking.client(root).get_logged_model(v["model_uri"].removeprefix("models:/"))
    assert {m.key: m.value for m in model.metrics} == {"AP": 0.5, "PCK_0.05": 0.4}
    folder = tracking.local_artifacts(v["model_uri"])
    mlmodel = (folder / "MLmodel").read_text()
    assert "signature:" in mlmodel and "saved_input_example_info" in mlmodel


@pytest.mark.slow
def test_champion_served_over_rest_carries_code_and_pins(store: tuple[Path, Path], tmp_path: Path) -> None:
    """``mlflow models serve -m models:/coco-pose@champion --env-manager local`` on a free port, run
    outside the project (no PYTHONPATH): a REST request returns the published model's keypoints;
    the model holds ``pose`` (code_paths) and pins what it imports."""
    import importlib.metadata
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    root, pth = store
    if "champion" not in registry.aliases("coco-pose", root=root):
        registry.promote_if_better("coco-pose", registry.register(pth, root=root)["version"], 0.5, None, 0.0, root=root)
    folder = tracking.local_artifacts("models:/coco-pose@champion")
    reqs = (folder / "requirements.txt").read_text().split()
    assert f"torch=={importlib.metadata.version('torch')}" in reqs and not any(r.startswith("posepipe") for r in reqs), reqs
    assert (folder / "code" / "pose" / "modelio" / "published.py").is_file()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", tracking.ROOT_ENV)}
    env["MLFLOW_TRACKING_URI"] = tracking.tracking_uri(root)
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", "models:/coco-pose@champion",
                               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    x = np.random.default_rng(1).integers(0, 256, (1, 3, 64, 64), dtype=np.uint8)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow models serve did not come up"
                time.sleep(1)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps({"inputs": x.tolist()}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            out = np.asarray(json.loads(r.read())["predictions"], np.float32)
    finally:
        server.terminate()
        server.wait(timeout=30)
    kpts, scores = load_published(pth)[0].predict(torch.from_numpy(x))
    assert out.shape == (1, 17, 3)
    assert np.allclose(out[..., :2], kpts.numpy(), atol=1e-4) and np.allclose(out[..., 2], scores.numpy(), atol=1e-5)
