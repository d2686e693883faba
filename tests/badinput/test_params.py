"""Bad params YAML for ``pose train``: refused before any training, naming the file and the key,
and nothing is written to ``--work-dir``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from badinput.support import assert_nothing_written, assert_user_error, run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _params(synth_ds: Path, **sections: dict[str, object]) -> dict[str, object]:
    d: dict[str, object] = {"dataset": str(synth_ds), "model": {"preset": "rtmpose-t", "input_size": [64, 64]},
                            "train": {"epochs": 1, "batch_size": 2, "workers": 0, "val_interval": 1}}
    for key, value in sections.items():
        base = d.get(key)
        d[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return d


# YAML changes -> (entry, words of the message)
CASES: dict[str, tuple[dict[str, object], str, str]] = {
    "unknown-top-key": ({"epochs": 3}, "epochs", "unknown key"),
    "unknown-nested-key": ({"train": {"lr_rate": 0.1}}, "train.lr_rate", "unknown key"),
    "wrong-type-epochs": ({"train": {"epochs": "ten"}}, "train.epochs", "valid integer"),
    "wrong-type-section": ({"model": "rtmpose-t"}, "model", "valid dictionary"),
    "wrong-type-input-size": ({"model": {"input_size": "64x64"}}, "model.input_size", "valid tuple"),
    "out-of-range-lr": ({"train": {"lr": -0.1}}, "train.lr", "greater than 0"),
    "out-of-range-batch": ({"train": {"batch_size": 0}}, "train.batch_size", "greater than or equal to 1"),
    "out-of-range-ema-decay": ({"train": {"ema_decay": 1.5}}, "train.ema_decay", "less than 1"),
    "bad-literal-optimizer": ({"train": {"optimizer": "sgd"}}, "train.optimizer", "'adamw' or 'adam'"),
}


@pytest.mark.parametrize("changes,entry,says", list(CASES.values()), ids=list(CASES))
def test_bad_params_refused_before_training(changes: dict[str, object], entry: str, says: str, synth_ds: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "pose.yaml"
    cfg.write_text(yaml.safe_dump(_params(synth_ds, **changes)))
    work = tmp_path / "work"
    r = run_cli("train", cfg, "--work-dir", work, "--device", "cpu")
    assert_user_error(r, file=cfg, entry=entry, says=says)
    assert_nothing_written(work)


RAW = {
    "invalid-yaml": ("model: [rtmpose-t\n", "<top>", "not valid YAML"),
    "top-level-list": ("- dataset: x\n", "<top>", "expected a mapping"),
    "non-utf8-yaml": (b"dataset: caf\xe9\n", "<top>", "not valid YAML"),
}


@pytest.mark.parametrize("text,entry,says", list(RAW.values()), ids=list(RAW))
def test_unreadable_params_file(text: str | bytes, entry: str, says: str, tmp_path: Path) -> None:
    cfg = tmp_path / "pose.yaml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    work = tmp_path / "work"
    r = run_cli("train", cfg, "--work-dir", work, "--device", "cpu")
    assert_user_error(r, file=cfg, says=says)
    assert_nothing_written(work)


def test_missing_params_file(tmp_path: Path) -> None:
    cfg, work = tmp_path / "nope.yaml", tmp_path / "work"
    assert_user_error(run_cli("train", cfg, "--work-dir", work), file=cfg, says="params file not found")
    assert_nothing_written(work)


def test_unknown_override_key(synth_ds: Path, tmp_path: Path) -> None:
    cfg, work = tmp_path / "pose.yaml", tmp_path / "work"
    cfg.write_text(yaml.safe_dump(_params(synth_ds)))
    r = run_cli("train", cfg, "--work-dir", work, "--set", "train.lrr=0.1")
    assert_user_error(r, file=None, entry="--set", says="unknown key 'train.lrr'")
    assert "did you mean 'lr'" in r.lines[1]
    assert_nothing_written(work)


# Values only the model or the dataset can judge: refused before the first step, no checkpoint.
LATE = {
    "unknown-preset": ({"model": {"preset": "rtmpose-q"}}, "model.preset", "unknown model preset"),
    "input-size-not-multiple-of-32": ({"model": {"input_size": [60, 64]}}, "model.input_size", "multiples of 32"),
    "unknown-aug-key": ({"aug": {"rotation": 30}}, "aug.rotation", "unknown key"),
}


@pytest.mark.parametrize("changes,entry,says", list(LATE.values()), ids=list(LATE))
def test_params_refused_when_building(changes: dict[str, object], entry: str, says: str, synth_ds: Path, tmp_path: Path) -> None:
    cfg, work = tmp_path / "pose.yaml", tmp_path / "work"
    cfg.write_text(yaml.safe_dump(_params(synth_ds, **changes)))
    r = run_cli("train", cfg, "--work-dir", work, "--device", "cpu")
    assert_user_error(r, file=cfg, entry=entry, says=says)
    assert_nothing_written(work)


def test_dataset_missing(tmp_path: Path, synth_ds: Path) -> None:
    cfg, work = tmp_path / "pose.yaml", tmp_path / "work"
    missing = tmp_path / "no-such-dataset"
    cfg.write_text(yaml.safe_dump({**_params(synth_ds), "dataset": str(missing)}))
    assert_user_error(run_cli("train", cfg, "--work-dir", work, "--device", "cpu"), file=missing, says="no such dataset")
    assert_nothing_written(work)
