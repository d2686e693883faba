"""benchmarks/bench_transfer.py in --quick mode on a tiny synthetic set: rows, curves and the plot
(numbers not judged: one epoch at 64x64 measures nothing)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from pose.data.synth import generate

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_transfer", ROOT / "benchmarks" / "bench_transfer.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_transfer"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
def test_quick_run_writes_rows_curves_and_plot(tmp_path: Path) -> None:
    bench = _bench()
    dataset = generate(tmp_path / "synth", images=24, progress=False)["out"]
    out = bench.main(["--quick", "--routes", "r18-scratch,lite0-freeze3", "--dataset", str(dataset), "--out", str(tmp_path / "res")])
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "bench_transfer" and doc["quick"] is True
    assert [r["route"] for r in doc["rows"]] == ["r18-scratch", "lite0-freeze3"]
    assert all(r["epochs"] == 1 and 0 <= r["AP"] <= 1 for r in doc["rows"])
    assert set(doc["curves"]) == {"r18-scratch", "lite0-freeze3"} and all(len(c) == 1 for c in doc["curves"].values())
    assert doc["overrides"]["lite0-freeze3"][-1] == "train.freeze_stages=3"
    assert (tmp_path / "res" / "bench_transfer.png").stat().st_size > 1000


def test_unknown_route_is_an_argument_error() -> None:
    with pytest.raises(SystemExit) as err:
        _bench().main(["--routes", "r18-scratch,resnet9000"])
    assert err.value.code == 2
