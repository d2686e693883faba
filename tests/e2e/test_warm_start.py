"""Warm-started retraining through the real pipeline (``pose pipeline run``: DVC, MLflow registry):
with ``train.init: champion`` the first run has no champion yet (configured init, one warning per
model), a second run with nothing changed stays up to date (the champion it promoted is no
reason to retrain), and after adding data both training stages re-run from the champions, which
the new checkpoints, registered versions and model card name as their parents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e.support import BIN, make_tiny_repo, run

from pose.engine.checkpoint import load_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # three tiny pipeline runs: 12-20 min at load 8
WARM = ["params/pose.yaml:train.init=champion", "params/detector.yaml:train.init=champion",
        "params/pose.yaml:train.finetune_epochs=2", "params/detector.yaml:train.finetune_epochs=2"]


def _pipeline(repo: Path) -> str:
    r = run([str(BIN / "pose"), "pipeline", "run"], repo, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


def _choice(repo: Path, kind: str) -> dict:
    return json.loads((repo / "build/champion" / f"{kind}.json").read_text())


def test_champion_init_through_the_pipeline(tmp_path: Path) -> None:
    repo = make_tiny_repo(tmp_path / "repo")
    assert run([str(BIN / "pose"), "pipeline", "set", *WARM], repo).returncode == 0

    first = _pipeline(repo)
    for kind in ("pose", "detector"):
        assert _choice(repo, kind)["reason"].startswith("no champion of 'coco-"), _choice(repo, kind)  # the store exists, empty
    assert first.count("train.init is champion, but no champion of") == 2, first
    v1 = json.loads((repo / "build/publish/publish.json").read_text())
    assert v1["decision"]["verdict"] == "promoted"

    again = _pipeline(repo)
    assert "up to date" in again, again[-2000:]

    assert run([str(BIN / "pose"), "pipeline", "set", "params/data.yaml:synth.images=20"], repo).returncode == 0
    third = _pipeline(repo)
    name, version = v1["registered"]["name"], v1["registered"]["version"]
    assert _choice(repo, "pose")["use"] and _choice(repo, "pose")["version"] == version, third[-3000:]
    assert _choice(repo, "detector")["use"], _choice(repo, "detector")
    for work, model in (("build/pose", name), ("build/detector", v1["detector"]["registered"]["name"])):
        state = load_checkpoint(repo / work / "latest.pth")
        assert state["epoch"] == 2 and state["config"]["init"]["parent"]["name"] == model, (work, state["config"]["init"])
    v2 = json.loads((repo / "build/publish/publish.json").read_text())
    assert v2["registered"]["version"] != version
    assert f"warm-started from {name} v{version}" in (repo / v2["card"]).read_text()
    listed = run([str(BIN / "pose"), "registry", "--json"], repo)
    versions = {m["name"]: m["versions"] for m in json.loads(listed.stdout)}
    newest = versions[name][-1]
    assert (newest["lineage"]["init.parent_model"], newest["lineage"]["init.parent_version"]) == (name, version)
