"""The whole chain with plain ``dvc repro`` in a throw-away copy: lock file, metrics, registry
champion, published .pth + .onnx with parity, a no-op second run, and the MLflow UI's REST API."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from e2e.support import BIN, e2e_env, run

from pose.pipeline.dvc import STAGES

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_dvc_repro_full_chain_then_noop(tiny_repo: Path) -> None:
    t0 = time.perf_counter()
    first = run([str(BIN / "pose"), "pipeline", "data"], tiny_repo)
    assert first.returncode == 0, first.stderr
    r = run([str(BIN / "dvc"), "repro"], tiny_repo)
    full_s = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lock = yaml.safe_load((tiny_repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)

    metrics = json.loads((tiny_repo / "build/eval/metrics.json").read_text())
    for key in ("AP", "AP50", "PCK@0.05", "PCK@0.1", "AUC", "EPE", "det_AP", "det_bbox_mAP"):
        assert isinstance(metrics[key], float), key
    assert len(json.loads((tiny_repo / "build/eval/pck_curve.json").read_text())) == 10
    assert {p.name for p in (tiny_repo / "build/eval/plots").glob("*.png")} >= {"pck_curve.png", "pose_loss.png"}
    assert list((tiny_repo / "build/eval/plots").glob("compare_*.png")), "GT-vs-prediction panels are logged"
    from pose.engine.curves import TRAIN, VAL, read_rows

    for work, val_key in (("build/pose", "AP"), ("build/detector", "bbox_mAP")):
        train, val = read_rows(tiny_repo / work / TRAIN), read_rows(tiny_repo / work / VAL)
        assert [r["epoch"] for r in train] == [r["epoch"] for r in val] == ["1"], (work, train, val)
        assert float(train[0]["loss"]) > 0 and float(val[0][val_key]) >= 0

    result = json.loads((tiny_repo / "build/publish/publish.json").read_text())
    pth, onnx = tiny_repo / result["published"], tiny_repo / result["onnx"]
    assert pth.is_file() and onnx.is_file() and pth.stem == onnx.stem
    assert result["parity"]["passed"] and result["parity"]["max_keypoint_px"] < 0.5
    assert result["decision"]["verdict"] == "promoted"
    det = result["detector"]
    assert det["registered"]["name"].endswith("-detector") and det["decision"]["verdict"] == "promoted"
    assert (tiny_repo / det["published"]).is_file() and "bbox_mAP" in det["metrics"]

    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[1:] == [3, 64, 64]

    t1 = time.perf_counter()
    again = run([str(BIN / "dvc"), "repro"], tiny_repo)
    noop_s = time.perf_counter() - t1
    assert again.returncode == 0 and "Data and pipelines are up to date" in again.stdout, again.stdout
    assert noop_s < 15
    print(f"\nfull dvc repro {full_s:.1f} s, no-op {noop_s:.2f} s")

    # Code is a dep: a comment in pose/codecs re-runs the pose model and what follows, not the detector.
    codecs = tiny_repo / "pose/codecs/__init__.py"
    original = codecs.read_text()
    codecs.write_text(original + "\n# touched\n")
    try:
        changed = run([str(BIN / "dvc"), "status", "--json"], tiny_repo)
        assert changed.returncode == 0, changed.stderr
        assert sorted(json.loads(changed.stdout[changed.stdout.find("{"):])) == ["evaluate", "publish", "train_pose"], changed.stdout
    finally:
        codecs.write_text(original)

    shown = run([str(BIN / "dvc"), "metrics", "show", "--json"], tiny_repo)
    assert shown.returncode == 0, shown.stderr
    workspace = next(iter(json.loads(shown.stdout).values()))  # keyed "" (dvc 3.67) or "workspace"
    assert workspace["data"]["build/eval/metrics.json"]["data"]["AP"] == metrics["AP"]
    plots = run([str(BIN / "dvc"), "plots", "show", "-o", "build/plots_html"], tiny_repo)
    assert plots.returncode == 0, plots.stderr
    html = (tiny_repo / "build/plots_html/index.html").read_text()
    assert "pck_curve.png" in html and "pose_loss.png" in html, "the stage's PNG plots are in dvc plots show"
    pngs = list((tiny_repo / "build/plots_html/static").glob("*pck_curve.png"))
    assert pngs and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "copied beside the HTML: renders offline"

    # The registry from the CLI, from a subfolder of the project: the same store, never a new one.
    reg = run([str(BIN / "pose"), "registry", "--json"], tiny_repo / "build")
    assert reg.returncode == 0, reg.stderr
    models = {m["name"]: m for m in json.loads(reg.stdout)}
    assert str(models[result["registered"]["name"]]["aliases"]["champion"]) == result["registered"]["version"], models
    assert not (tiny_repo / "build" / "mlruns").exists()

    # An experiment on an eval param that cannot move the metrics: evaluate re-runs, dvc exp show compares.
    exp = run([str(BIN / "dvc"), "exp", "run", "--set-param", "params/eval.yaml:examples=2", "-n", "fewer-examples"], tiny_repo)
    assert exp.returncode == 0, exp.stdout[-3000:] + exp.stderr[-3000:]
    assert "Running stage 'evaluate'" in exp.stdout and "Running stage 'train_pose'" not in exp.stdout, exp.stdout[-3000:]
    table = run([str(BIN / "dvc"), "exp", "show", "--json"], tiny_repo)
    assert table.returncode == 0, table.stderr
    flat = json.dumps(json.loads(table.stdout))
    assert "fewer-examples" in flat and '"examples": 2' in flat and '"AP"' in flat, flat[:3000]
    # dvc.yaml's training curves compare across the experiment and the workspace.
    diff = run([str(BIN / "dvc"), "plots", "diff", "fewer-examples", "--json"], tiny_repo)
    assert diff.returncode == 0, diff.stderr
    pose_loss = json.loads(diff.stdout)["data"]["pose_loss"][0]
    assert {"fewer-examples", "workspace"} <= set(pose_loss["revisions"]), pose_loss.get("revisions")

    port = _free_port()
    ui = subprocess.Popen([str(BIN / "mlflow"), "ui", "--backend-store-uri", f"sqlite:///{tiny_repo / 'mlruns' / 'mlflow.db'}",
                           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], cwd=tiny_repo, env=e2e_env(tiny_repo),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "mlflow ui did not come up"
                time.sleep(0.5)
        name = result["registered"]["name"]
        alias = _get(f"{base}/api/2.0/mlflow/registered-models/alias?name={name}&alias=champion")
        assert alias["model_version"]["version"] == result["registered"]["version"]
        det_name = det["registered"]["name"]
        det_alias = _get(f"{base}/api/2.0/mlflow/registered-models/alias?name={det_name}&alias=champion")
        assert det_alias["model_version"]["version"] == det["registered"]["version"]
        exp = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=posepipe")["experiment"]
        req = urllib.request.Request(f"{base}/api/2.0/mlflow/runs/search", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"experiment_ids": [exp["experiment_id"]], "max_results": 100}).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            runs = json.loads(resp.read())["runs"]
        names = {r["info"]["run_name"] for r in runs}
        assert {"prepare", "validate", "train_detector", "train_pose", "evaluate", "publish"} <= names
        pose_run = next(r for r in runs if r["info"]["run_name"] == "train_pose")
        assert any(m["key"] == "loss" for m in pose_run["data"].get("metrics", []))
    finally:
        ui.terminate()
        ui.wait(timeout=20)
