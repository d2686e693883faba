"""benchmarks/bench_real.py in --quick mode on one real set: the table's row and JSON (numbers not judged)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_real", ROOT / "benchmarks" / "bench_real.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["bench_real"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_quick_run_on_openfield(shared_data: Path, tmp_path: Path, one_thread: None) -> None:
    bench = _bench()
    out = bench.main(["--quick", "--sets", "dlc_openfield", "--shared", str(shared_data), "--json", str(tmp_path / "real.json")])
    doc = json.loads(out.read_text())
    assert out == tmp_path / "real.json" and doc["benchmark"] == "real" and doc["quick"] is True
    (row,) = doc["rows"]
    assert row["set"] == "dlc_openfield" and row["train/val"] == "93/23" and row["epochs"] == 1 and row["input"] == "64x64"
    assert row["EPE"] > 0 and 0 <= row["PCK@0.05"] <= row["PCK@0.1"] <= 1 and 0 <= row["AP"] <= 1 and row["train_min"] > 0


def test_unknown_set_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _bench().main(["--sets", "dlc_openfield,nope"])
    assert e.value.code == 2 and "unknown set(s) nope" in capsys.readouterr().err
