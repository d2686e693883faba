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


@pytest.mark.slow
def test_keypoints_pyfunc_equals_pose_infer(project: tuple[Path, Path]) -> None:
    """The registered image -> keypoints model (detector + pose, one pyfunc) gives ``pose infer``'s keypoints."""
    import sys

    import mlflow
    import numpy as np

    from pose.inference.infer import InferOptions, run_infer
    from pose.publish.command import publish_command

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from model_files import make_pose_checkpoint

    root, ckpt = project
    result = publish_command(make_pose_checkpoint(root / "pose.pth", root / "ds"), root / "out", register=True, onnx=False,
                             root=root, detector=ckpt)
    reg = result["keypoints_model"]
    assert reg["name"] == f"{result['registered']['name'].removesuffix('-pose')}-keypoints" and reg["aliases"]["champion"] == reg["version"]
    pose_path, det_path = Path(result["published"]), Path(result["detector"]["published"])
    image_file = sorted(p for p in (root / "ds").rglob("*") if p.suffix.lower() in (".jpg", ".png"))[0]
    seen = []
    run_infer(image_file, InferOptions(pose_path, det_model=det_path, bbox_thr=0.0, save_json=root / "infer.json", device="cpu",
                                       progress=False), callbacks=[lambda f, r: seen.append(r)])
    import cv2

    tracking.client(root)
    out = mlflow.pyfunc.load_model(reg["model_uri"]).predict(cv2.imread(str(image_file)), params={"bbox_thr": 0.0})
    assert len(seen[0]) > 0 and out.shape == (len(seen[0]), seen[0].keypoints.shape[1], 3)
    assert np.allclose(out[..., :2], seen[0].keypoints, atol=1e-4) and np.allclose(out[..., 2], seen[0].keypoint_scores, atol=1e-5)


def test_no_detector_marker_publishes_the_pose_model_alone(project: tuple[Path, Path]) -> None:
    from model_files import make_pose_checkpoint

    from pose.detection.none import write_no_detector
    from pose.publish.command import publish_command

    root, _ = project
    pose = make_pose_checkpoint(root / "pose.pth", root / "ds")
    write_no_detector(DetectorParams(preset="none"), root / "det")
    result = publish_command(pose, root / "out", onnx=False, detector=root / "det/best.pth")
    assert "detector" not in result and Path(result["published"]).is_file()
    assert [p.suffix for p in sorted((root / "out").iterdir())] == [".md", ".pth"], "no detector file beside the pose model"
