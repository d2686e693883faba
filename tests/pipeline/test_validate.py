from __future__ import annotations

import json
from pathlib import Path

from pose.data.synth import generate
from pose.pipeline.validate import SUMMARY, validate_dataset


def test_validate_dataset_reports_every_split_and_counts_errors(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    generate(ds, images=4, size=64, seed=1, progress=False)
    summary, reports = validate_dataset(ds, tmp_path / "out")
    assert set(summary["splits"]) == {"train", "val"} and summary["errors"] == 0 and len(reports) == 2
    assert json.loads((tmp_path / "out" / SUMMARY).read_text()) == summary
    assert (tmp_path / "out" / "train.json").is_file()

    next((ds / "images").iterdir()).unlink()
    summary, _ = validate_dataset(ds, tmp_path / "out")
    assert summary["errors"] >= 1
