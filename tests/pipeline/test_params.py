from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pose.errors import ConfigError
from pose.params import EvalParams, load_params, PublishParams, ScheduleParams, parse_assignment, set_params

PROJECT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "params").mkdir()
    for name in ("data.yaml", "pose.yaml", "eval.yaml"):
        (tmp_path / "params" / name).write_text((PROJECT / "params" / name).read_text())
    return tmp_path


def test_project_params_files_validate() -> None:
    assert load_params(PROJECT / "params/eval.yaml", EvalParams).split == "val"
    assert load_params(PROJECT / "params/publish.yaml", PublishParams).min_gain >= 0
    sched = load_params(PROJECT / "params/schedule.yaml", ScheduleParams)
    assert len(sched.cron.split()) == 5


def test_set_params_keeps_order_and_header_and_validates(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = (root / "params/pose.yaml").read_text()
    changed = set_params(root, ["params/pose.yaml:train.epochs=3", "params/pose.yaml:model.input_size=[64,64]", "params/eval.yaml:flip=false"])
    assert [p.name for p in changed] == ["pose.yaml", "eval.yaml"]
    after = (root / "params/pose.yaml").read_text()
    assert after.splitlines()[0] == before.splitlines()[0] and after.startswith("#")
    d = yaml.safe_load(after)
    assert d["train"]["epochs"] == 3 and d["model"]["input_size"] == [64, 64]
    assert list(d) == list(yaml.safe_load(before))
    assert yaml.safe_load((root / "params/eval.yaml").read_text())["flip"] is False


def test_set_params_same_value_changes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    epochs = yaml.safe_load((root / "params/pose.yaml").read_text())["train"]["epochs"]
    assert set_params(root, [f"params/pose.yaml:train.epochs={epochs}"]) == []


@pytest.mark.parametrize("item, match", [
    ("params/pose.yaml:train.epoch=3", "unknown key 'train.epoch'"),
    ("params/pose.yaml:train.epochs=-1", "train.epochs"),
    ("params/nope.yaml:a=1", "no schema"),
    ("train.epochs=3", "FILE:KEY=VALUE"),
])
def test_set_params_rejects_bad_overrides_and_leaves_files(tmp_path: Path, item: str, match: str) -> None:
    root = _project(tmp_path)
    before = (root / "params/pose.yaml").read_text()
    with pytest.raises(ConfigError, match=match):
        set_params(root, [item])
    assert (root / "params/pose.yaml").read_text() == before


def test_parse_assignment() -> None:
    assert parse_assignment("params/pose.yaml:model.preset=rtmpose-s") == ("params/pose.yaml", "model.preset=rtmpose-s")
