"""The publish command's detector path on a real sqlite store: <dataset>-detector, gate, files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from pose import tracking
from pose.data.synth import generate
from pose.detection.predict import checkpoint_config, load_detector
from pose.detection.presets import build_detector
from pose.engine.checkpoint import load_checkpoint, save_checkpoint
from pose.modelio.published import publish_detector
from pose.params import DetectorParams
from pose.publish import registry
from pose.publish.command import publish_and_gate
from pose.publish.registry import detector_name as model_name


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)
    generate(tmp_path / "ds", images=6, seed=2, size=96, val_fraction=0.5, progress=False)
    params = DetectorParams.model_validate({"dataset": str(tmp_path / "ds"), "input_size": 96})
    torch.manual_seed(0)
    model = build_detector("fcos-tiny", 1, 96)
    ckpt = tmp_path / "best.pth"
    save_checkpoint(ckpt, {"model": model.state_dict(), "ema": model.state_dict(), "optimizer": {"state": {}}, "epoch": 3,
                           "config": checkpoint_config("fcos-tiny", 96, ["person"], [1], params.model_dump(mode="json"))})
    return tmp_path, ckpt


def test_publish_strips_training_state_and_loads(project: tuple[Path, Path]) -> None:
    root, ckpt = project
    path, sha = publish_detector(ckpt, root / "out", name="coco-detector", metrics={"bbox_mAP": 0.5})
    assert path.name == f"coco-detector-{sha[:8]}.pth" and hashlib.sha256(path.read_bytes()).hexdigest() == sha
    state = load_checkpoint(path)
    assert set(state) == {"model", "config"} and state["config"]["metrics"] == {"bbox_mAP": 0.5}
    model, info = load_detector(path)
    assert info.preset == "fcos-tiny" and info.class_names == ["person"]
    assert model_name("my set") == "my_set-detector"


@pytest.mark.slow
def test_register_then_gate_against_the_rescored_champion(project: tuple[Path, Path]) -> None:
    root, ckpt = project
    with tracking.stage_run("publish", root=root) as run:
        first = publish_and_gate(ckpt, root / "out", dataset="coco", run=run, lineage={}, root=root)
    assert first["registered"]["name"] == "coco-detector" and first["decision"]["verdict"] == "promoted"
    assert first["champion_metric"] is None and "bbox_mAP" in first["metrics"]
    with tracking.stage_run("publish", root=root) as run:
        second = publish_and_gate(ckpt, root / "out", dataset="coco", run=run, lineage={}, root=root, min_gain=0.01)
    assert second["champion_metric"] == pytest.approx(first["metrics"]["bbox_mAP"])
    assert second["decision"]["verdict"] == "rejected", "the same weights cannot beat the champion by min_gain"
    assert registry.aliases("coco-detector", root=root) == {"champion": "1", "challenger": "2"}
    version, weights = registry.champion_file("coco-detector", root=root)
    assert version == "1" and hashlib.sha256(weights.read_bytes()).hexdigest() == first["sha256"]
    listed = {m["name"]: m for m in registry.list_registry(root=root)}["coco-detector"]
    assert all(v["complete"] for v in listed["versions"]) and listed["versions"][1]["gate"]["verdict"] == "rejected"
    import mlflow
    import numpy as np

    from pose.detection.predict import detect

    tracking.client(root)
    image = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    out = mlflow.pyfunc.load_model("models:/coco-detector@champion").predict(image)
    (boxes, scores, labels), = detect(load_detector(weights)[0], [image])
    assert out.shape == (len(boxes), 6) and np.allclose(out[:, :4], boxes) and np.allclose(out[:, 4], scores)
