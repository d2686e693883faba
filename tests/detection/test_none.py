"""params/detector.yaml preset: none -- the detector stage writes a marker, later steps read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose.detection.none import is_no_detector, write_no_detector
from pose.detection.predict import load_detector
from pose.detection.train import train_detector
from pose.errors import CheckpointError, ConfigError
from pose.params import DetectorParams, load_params

YAML = Path(__file__).resolve().parents[2] / "params/detector.yaml"


def test_preset_none_is_a_choice_and_named_in_the_error() -> None:
    p = load_params(YAML, DetectorParams, ["preset=none"])
    assert p.no_detector and not DetectorParams().no_detector
    with pytest.raises(ConfigError, match="fcos-tiny.*none"):
        load_params(YAML, DetectorParams, ["preset=yolo"])


def test_train_det_none_writes_only_the_marker(tmp_path: Path) -> None:
    p = load_params(YAML, DetectorParams, ["preset=none", f"dataset={tmp_path / 'no-such-dataset'}"])
    summary = train_detector(p, tmp_path / "det", device="cpu")
    assert summary["detector"] == "none" and summary["best"] is None and summary["is_main"]
    assert sorted(f.name for f in (tmp_path / "det").iterdir()) == ["best.pth", "detector.json", "latest.pth"]
    assert json.loads((tmp_path / "det/detector.json").read_text())["detector"] == "none"
    assert is_no_detector(tmp_path / "det/best.pth") and is_no_detector(tmp_path / "det/latest.pth")
    with pytest.raises(CheckpointError, match="preset: none") as e:
        load_detector(tmp_path / "det/best.pth")
    assert "--follow" in (e.value.hint or "")


def test_is_no_detector_is_false_for_other_files(tmp_path: Path) -> None:
    from inference.conftest import make_detector_checkpoint

    assert not is_no_detector(make_detector_checkpoint(tmp_path / "det.pth"))
    assert not is_no_detector(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert not is_no_detector(tmp_path / "junk.pth")
    write_no_detector(DetectorParams(preset="none"), tmp_path / "m")
    assert is_no_detector(tmp_path / "m/best.pth")
