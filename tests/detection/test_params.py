"""params/detector.yaml validates; bad presets, scales and keys are one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose.params import DetectorParams, load_params
from pose.errors import ConfigError

YAML = Path(__file__).resolve().parents[2] / "params" / "detector.yaml"


def test_shipped_yaml_validates_and_equals_the_defaults() -> None:
    p = load_params(YAML, DetectorParams)
    assert p == DetectorParams(dataset=p.dataset)
    assert p.resolved_input_size() == p.input_size == 256 and p.train.ema is True


def test_overrides_and_errors() -> None:
    p = load_params(YAML, DetectorParams, ["preset=ssdlite320-mobilenetv3", "input_size=null", "aug.scale=[1, 1]"])
    assert p.resolved_input_size() == 320 and p.aug.to_aug().scale == (1.0, 1.0)
    with pytest.raises(ConfigError, match="unknown detector preset 'yolo'") as e:
        load_params(YAML, DetectorParams, ["preset=yolo"])
    assert "preset" in str(e.value)
    with pytest.raises(ConfigError, match="aug.scale"):
        load_params(YAML, DetectorParams, ["aug.scale=[1.2, 0.8]"])
    with pytest.raises(ConfigError, match="unknown key 'train.epoch'"):
        load_params(YAML, DetectorParams, ["train.epoch=3"])
