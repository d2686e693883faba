"""The whole pipeline on a second real lab project, without a detector: the Lightning Pose
mirror-mouse project in ../shared/data goes into data/, ``params/data.yaml`` says ``source:
lightning-pose``, ``params/detector.yaml`` says ``preset: none`` and ``params/pose.yaml`` takes the
crop size from the boxes (``model.input_size: auto``); ``pose pipeline run`` converts, validates,
writes the detector marker, trains the pose model (tiny params), evaluates on GT boxes and
registers the pose model alone under the project's name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from e2e.support import BIN, make_tiny_repo, run

from pose.data.boxsize import auto_size
from pose.data.layout import load_dataset
from pose.engine.checkpoint import load_checkpoint
from pose.pipeline.dvc import STAGES

pytestmark = pytest.mark.slow
PROJECT = "lightning_pose_mirror_mouse"
SETTINGS = ["params/data.yaml:source=lightning-pose", "params/data.yaml:path=data/mirror_mouse",
            "params/detector.yaml:preset=none", "params/pose.yaml:model.input_size=auto"]


def test_lightning_pose_project_without_a_detector(shared_data: Path, tmp_path: Path) -> None:
    repo = make_tiny_repo(tmp_path / "repo")
    src = shared_data / PROJECT
    shutil.copytree(src / "labeled-data", repo / "data/mirror_mouse/labeled-data")
    shutil.copy2(src / "CollectedData.csv", repo / "data/mirror_mouse/CollectedData.csv")
    r = run([str(BIN / "pose"), "pipeline", "set", *SETTINGS], repo)
    assert r.returncode == 0, r.stderr

    r = run([str(BIN / "pose"), "pipeline", "run"], repo, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    report = json.loads((repo / "build/dataset/conversion_report.json").read_text())
    assert report["source_format"] == "lightning-pose"
    counts = {split: len(json.loads((repo / f"build/dataset/annotations/{split}.json").read_text())["images"]) for split in ("train", "val")}
    assert counts["train"] + counts["val"] == 90 and counts["val"] > 0, counts
    assert json.loads((repo / "build/validation/summary.json").read_text())["errors"] == 0

    assert json.loads((repo / "build/detector/detector.json").read_text())["detector"] == "none"
    chosen = auto_size(load_dataset(repo / "build/dataset", split="train")[0])
    cfg = load_checkpoint(repo / "build/pose/best.pth")["config"]
    assert cfg["input_size"] == list(chosen.input_size) and cfg["params"]["model"]["input_size"] == list(chosen.input_size)
    assert chosen.describe() in r.stdout + r.stderr, "the chosen crop size is printed"

    metrics = json.loads((repo / "build/eval/metrics.json").read_text())
    for key in ("AP", "PCK@0.05", "PCK@0.1", "EPE"):
        assert isinstance(metrics[key], float), key
    assert not [k for k in metrics if k.startswith("det_")], sorted(metrics)
    published = json.loads((repo / "build/publish/publish.json").read_text())
    assert published["registered"]["name"] == "mirror_mouse-pose" and "detector" not in published
    assert published["decision"]["verdict"] == "promoted"
