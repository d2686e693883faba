"""The whole pipeline on a real lab project: the DeepLabCut openfield project in ../shared/data
goes into data/, ``params/data.yaml`` says ``source: dlc``, and ``pose pipeline run`` converts,
validates, trains both models (tiny params), evaluates, publishes and registers them under the
dataset's name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from e2e.support import BIN, make_tiny_repo, run

from pose.pipeline.dvc import STAGES

pytestmark = pytest.mark.slow
PROJECT = "dlc_openfield/openfield-Pranav-2018-10-30"


def test_dlc_project_through_the_whole_pipeline(shared_data: Path, tmp_path: Path) -> None:
    repo = make_tiny_repo(tmp_path / "repo")
    src = shared_data / PROJECT
    shutil.copytree(src / "labeled-data", repo / "data/openfield/labeled-data")
    shutil.copy2(src / "config.yaml", repo / "data/openfield/config.yaml")
    r = run([str(BIN / "pose"), "pipeline", "set", "params/data.yaml:source=dlc", "params/data.yaml:path=data/openfield"], repo)
    assert r.returncode == 0, r.stderr

    r = run([str(BIN / "pose"), "pipeline", "run"], repo, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    report = json.loads((repo / "build/dataset/conversion_report.json").read_text())
    assert report["source_format"] == "dlc"
    counts = {split: len(json.loads((repo / f"build/dataset/annotations/{split}.json").read_text())["images"])
              for split in ("train", "val")}
    assert counts["train"] + counts["val"] == 116 and counts["val"] > 0, counts
    meta = yaml.safe_load((repo / "build/dataset/meta.yaml").read_text())
    assert [k if isinstance(k, str) else k["name"] for k in meta["keypoints"]] == ["snout", "leftear", "rightear", "tailbase"]

    metrics = json.loads((repo / "build/eval/metrics.json").read_text())
    for key in ("AP", "PCK@0.05", "PCK@0.1", "EPE", "det_bbox_mAP"):
        assert isinstance(metrics[key], float), key
    published = json.loads((repo / "build/publish/publish.json").read_text())
    names = {published["registered"]["name"], published["detector"]["registered"]["name"]}
    assert names == {"openfield-pose", "openfield-detector"}, names
    assert published["decision"]["verdict"] == "promoted"
