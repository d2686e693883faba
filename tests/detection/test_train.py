"""Detector recipe end to end on a tiny synthetic set: train, resume, test, load + detect."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pose.data.synth import generate
from pose.detection.predict import detect, load_detector
from pose.detection import train as det_train
from pose.engine.checkpoint import LATEST, load_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.params import DetectorParams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 1-epoch training run on 12 images of 128 px; its config file and work dir."""
    root = tmp_path_factory.mktemp("det")
    generate(root / "data", images=12, size=128, progress=False)
    params = DetectorParams(dataset=str(root / "data"), preset="fcos-tiny", input_size=96).model_dump(mode="json")
    params["train"].update(epochs=1, batch_size=4, workers=0, warmup_iters=2, val_interval=1)
    config = root / "detector.yaml"
    config.write_text(yaml.safe_dump(params))
    work = root / "work"
    summary = det_train.train_from_config(config, work, device="cpu")
    return {"root": root, "config": config, "work": work, "summary": summary}


def test_train_writes_checkpoint_with_rebuild_config(run: dict) -> None:
    state = load_checkpoint(run["work"] / LATEST)
    assert state["epoch"] == 1
    cfg = state["config"]
    assert cfg["kind"] == "detector" and cfg["preset"] == "fcos-tiny" and cfg["input_size"] == 96
    assert cfg["class_names"] == ["person"] and cfg["num_classes"] == 2 and cfg["category_ids"] == [1]
    assert yaml.safe_load((run["work"] / "params.yaml").read_text())["input_size"] == 96
    hist = run["summary"]["history"]
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"]) and 0.0 <= hist[0]["bbox_mAP50"] <= 1.0
    assert (run["work"] / "val" / "bbox_results.json").is_file()
    from pose.engine.curves import TRAIN, VAL, read_rows

    assert [r["epoch"] for r in read_rows(run["work"] / TRAIN)] == ["1"], "the training curve (dvc.yaml plots)"
    assert float(read_rows(run["work"] / VAL)[0]["bbox_mAP50"]) == pytest.approx(hist[0]["bbox_mAP50"], rel=1e-5)


def test_resume_continues_from_latest(run: dict) -> None:
    summary = det_train.train_from_config(run["config"], run["work"], resume="auto", overrides=["train.epochs=2"], device="cpu")
    assert [h["epoch"] for h in summary["history"]] == [1, 2]
    assert load_checkpoint(run["work"] / LATEST)["epoch"] == 2


def test_load_detector_and_detect_shapes(run: dict) -> None:
    model, info = load_detector(run["work"] / LATEST)
    assert info.class_names == ["person"] and info.input_size == 96 and not model.training
    images = [np.zeros((128, 100, 3), np.uint8), np.full((60, 90, 3), 200, np.uint8), np.zeros((128, 128, 3), np.uint8)]
    out = detect(model, images, score_thr=0.0, nms_thr=0.5, batch_size=2)
    assert len(out) == 3
    for (boxes, scores, labels), im in zip(out, images):
        assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4) and labels.shape == scores.shape
        assert scores.dtype == np.float32 and labels.dtype == np.int64
        assert np.all(np.diff(scores) <= 0) and np.all(labels == 1)
        if len(boxes):
            assert boxes[:, 2].max() <= im.shape[1] + 1e-3 and boxes[:, 3].max() <= im.shape[0] + 1e-3
    none = detect(model, images[:1], score_thr=0.0, classes=[2])
    assert none[0][0].shape == (0, 4)
    with pytest.raises(ConfigError, match=r"images\[0\]"):
        detect(model, [np.zeros((10, 10), np.uint8)])


def test_test_from_config_writes_metrics(run: dict, tmp_path: Path) -> None:
    out = tmp_path / "eval" / "metrics.json"
    metrics = det_train.score_from_config(run["config"], run["work"] / LATEST, out=out, device="cpu")
    saved = json.loads(out.read_text())
    assert saved["bbox_mAP"] == metrics["bbox_mAP"] and (out.parent / "bbox_results.json").is_file()


def test_load_detector_refuses_a_pose_checkpoint(tmp_path: Path) -> None:
    torch.save({"model": {}, "config": {"kind": "pose"}}, tmp_path / "p.pth")
    with pytest.raises(CheckpointError, match="not a detector checkpoint"):
        load_detector(tmp_path / "p.pth")
