from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pose.cli import app
from pose.data.synth import generate


def test_validate_stage_exits_1_on_errors_and_writes_reports(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    generate(ds, images=4, size=64, seed=2, progress=False)
    ok = CliRunner().invoke(app, ["pipeline", "validate", "--dataset", str(ds), "--out", str(tmp_path / "v")])
    assert ok.exit_code == 0, ok.output
    next((ds / "images").iterdir()).unlink()
    bad = CliRunner().invoke(app, ["pipeline", "validate", "--dataset", str(ds), "--out", str(tmp_path / "v")])
    assert bad.exit_code == 1
    assert json.loads((tmp_path / "v" / "summary.json").read_text())["errors"] >= 1


def test_set_command_edits_params_in_the_current_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "eval.yaml").write_text("# header\nsplit: val\nflip: true\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["pipeline", "set", "params/eval.yaml:flip=false"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "params" / "eval.yaml").read_text() == "# header\nsplit: val\nflip: false\n"
