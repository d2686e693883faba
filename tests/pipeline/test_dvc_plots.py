"""`make plots`: real `dvc plots show` with docs/vega/plots.html over training curves written by the
trainer's callback, in a throw-away DVC repo. The page must load nothing from the network."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pose.engine.curves import CurveFiles

pytestmark = pytest.mark.slow  # two DVC commands and make: 7-9 s on 2 busy cores

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VEGA = ("vega/vega.min.js", "vega/vega-lite.min.js", "vega/vega-embed.min.js")


def _write_curves(repo: Path) -> None:
    for work, val_keys in (("build/pose", ("AP", "AP50", "PCK@0.1")), ("build/detector", ("bbox_mAP", "bbox_mAP50"))):
        cb = CurveFiles(repo / work, val_keys)
        cb.on_train_start({"start_epoch": 0})
        for epoch in range(1, 6):
            cb.on_epoch_end(epoch, {"loss": 2.0 / epoch, "lr": 1e-3 * math.cos(epoch / 10), "data_wait_s": 0.1,
                                    **{k: epoch / 10 for k in val_keys}, "epoch": epoch})
    curve = [{"threshold": t / 10, "pck": min(1.0, t / 5)} for t in range(11)]
    (repo / "build/eval").mkdir(parents=True)
    (repo / "build/eval/pck_curve.json").write_text(json.dumps(curve))


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for rel in ("dvc.yaml", "Makefile", "docs/vega", "params"):
        (shutil.copytree if (ROOT / rel).is_dir() else shutil.copy2)(ROOT / rel, repo / rel)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([str(BIN / "dvc"), "init", "-q"], cwd=repo, check=True, env=env)
    _write_curves(repo)
    return repo


def _specs(html: str) -> dict[str, dict]:
    specs = [json.loads(s) for s in re.findall(r"var spec = (\{.*?\});\n", html, re.S)]
    titles = [s.get("title", "") for s in specs]
    return {t["text"] if isinstance(t, dict) else t: s for t, s in zip(titles, specs)}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make plots`` in a throw-away repo: the folder holding index.html."""
    repo = _repo(tmp_path_factory.mktemp("plots"))
    # -o: the venv is this interpreter's (BIN), never (re)built by the test.
    r = subprocess.run(["make", "-o", ".venv/.installed", "plots", f"BIN={BIN}"], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, "DVC_NO_ANALYTICS": "1"}, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return repo / "build/plots"


def test_make_plots_renders_the_training_curves_from_local_files_only(page: Path) -> None:
    out = page
    html = (out / "index.html").read_text()

    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert set(VEGA) <= set(refs), refs
    for ref in refs:
        assert not re.match(r"[a-z]+:", ref), f"{ref}: not a local file"
        assert (out / ref).is_file(), f"{ref}: missing beside the page"
    assert "jsdelivr" not in html, "no CDN script tags (the template has no {scripts} placeholder)"
    # The only URL left is Vega-Lite's "$schema" identifier inside each spec (never fetched).
    assert set(re.findall(r"https?://[^\"'\s<>]+", html)) <= {"https://vega.github.io/schema/vega-lite/v5.json"}
    for name in VEGA:
        assert (out / name).read_bytes() == (ROOT / "docs" / name).read_bytes()

    specs = _specs(html)
    titles = {p[next(iter(p))]["title"] for p in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]}
    assert titles <= set(specs), f"declared plots missing from the page: {titles - set(specs)}"
    pose_loss = specs["Pose model, training loss per epoch"]["data"]["values"]
    assert [(int(v["epoch"]), float(v["loss"])) for v in pose_loss] == [(e, pytest.approx(2.0 / e, rel=1e-5)) for e in range(1, 6)]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_the_page_draws_every_chart_with_the_network_cut_off(page: Path, tmp_path: Path) -> None:
    """Headless Chromium, every request sent to a dead proxy: each vega plot still becomes an SVG chart."""
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                        "--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000", "--dump-dom", (page / "index.html").as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    charts = r.stdout.count('role="graphics-document"')
    assert charts == (page / "index.html").read_text().count("var spec = ") >= 6, (charts, r.stdout[:2000])
