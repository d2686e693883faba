"""SIGKILL a process registering and promoting models (pose.publish.registry on a real sqlite
MLflow store) at random moments: the registry keeps a champion, and every aliased version is
complete and has its files (weights with the recorded sha256)."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import torch
from faults.support import child_env, finish, kill_group, start, wait_for

from pose import tracking
from pose.data.meta import load_meta
from pose.engine.checkpoint import save_checkpoint
from pose.modelio.published import load_published
from pose.params import PoseParams
from pose.publish import registry
from pose.publish.command import publish
from pose.recipes.topdown import build_pose_model, checkpoint_config

pytestmark = pytest.mark.slow
NAME = "coco-pose"

DRIVER = """
import sys, time
from pathlib import Path
from pose.publish import registry
root, pth, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
Path(root, "driver.ready").touch()
for i in range(n):
    t0 = time.perf_counter()
    v = registry.register(pth, root=root)["version"]
    champion = registry.aliases("coco-pose", root=root).get("champion")
    d = registry.promote_if_better("coco-pose", v, 0.5 + 0.01 * int(v), None if champion is None else 0.5 + 0.01 * int(champion), root=root)
    print("done", v, d["verdict"], f"{time.perf_counter() - t0:.3f}", flush=True)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)
    params = PoseParams.model_validate({"dataset": "data/x", "model": {"preset": "rtmpose-t", "input_size": [64, 64]}})
    meta = load_meta("coco")
    torch.manual_seed(0)
    model = build_pose_model(params, meta)
    save_checkpoint(tmp_path / "best.pth", {"model": model.state_dict(), "ema": None, "epoch": 1, "history": [],
                                            "config": checkpoint_config(params, meta, model)})
    pm = publish(tmp_path / "best.pth", tmp_path / "publish", metrics={"AP": 0.5}, lineage={}, onnx=False)
    return tmp_path, pm.path


def _driver(root: Path, pth: Path, n: int):
    (root / "driver.ready").unlink(missing_ok=True)
    return start([sys.executable, "-c", DRIVER, str(root), str(pth), str(n)], root, child_env())


def _check_invariant(root: Path, sha: str) -> str:
    c = tracking.client(root)
    al = registry.aliases(NAME, root=root)
    assert "champion" in al, f"no champion after a kill: {al}"
    for alias, version in al.items():
        assert c.get_model_version(NAME, version).tags.get(registry.COMPLETE) == "true", f"{alias} -> incomplete v{version}"
    version, weights = registry.champion_file(NAME, root=root)
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == sha, f"champion v{version} files differ from the published model"
    with sqlite3.connect(root / "mlruns" / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return version


def test_kills_during_register_and_promote_keep_a_complete_champion(project: tuple[Path, Path]) -> None:
    root, pth = project
    sha = load_published(pth)[2]["sha256"]
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    rc, out = finish(_driver(root, pth, 2))
    assert rc == 0 and "done 1 promoted" in out, out[-3000:]
    one = float(out.strip().splitlines()[-1].split()[-1])  # the second iteration: no store creation in it
    champions = [_check_invariant(root, sha)]

    hits = 0
    for _ in range(3):
        proc = _driver(root, pth, 3)
        assert wait_for(lambda: (root / "driver.ready").exists(), proc, timeout=120), "the driver never started its loop"
        time.sleep(rng.uniform(0.1, 2.5) * one)  # the loop of 3 takes about 3 * one: the kill lands inside it
        hits += kill_group(proc)[0]
        champions.append(_check_invariant(root, sha))
    assert hits >= 2, f"the driver finished before most kills (seed {seed}); nothing was injected"

    rc, out = finish(_driver(root, pth, 1))
    assert rc == 0 and "promoted" in out, out[-3000:]
    last = _check_invariant(root, sha)
    assert int(last) > int(champions[-1]) >= int(champions[0]) == 2, (champions, last, seed)
    versions = registry.list_registry(root=root)[0]["versions"]
    partial = [v["version"] for v in versions if not v["complete"]]
    assert last not in partial and all("champion" not in v["aliases"] for v in versions if not v["complete"])
