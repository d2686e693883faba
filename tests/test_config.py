from pathlib import Path

import pytest

from pose.errors import ConfigError
from pose.params import DataParams, load_params

ROOT = Path(__file__).resolve().parents[1]


def test_project_params_file_is_valid() -> None:
    p = load_params(ROOT / "params" / "data.yaml", DataParams)
    assert p.source == "synth" and p.synth.images > 0


def test_overrides_apply_and_validate(tmp_path: Path) -> None:
    f = tmp_path / "data.yaml"
    f.write_text("source: synth\nsynth: {images: 10}\n")
    p = load_params(f, DataParams, ["synth.images=25", "synth.kind=quadruped"])
    assert p.synth.images == 25 and p.synth.kind == "quadruped"


@pytest.mark.parametrize("override,msg", [
    ("synth.imgs=3", "unknown key 'synth.imgs'.*"),
    ("synth.images=-1", "greater than or equal to 1"),
    ("synth.kind=fish", "Input should be 'human' or 'quadruped'"),
    ("nope", "not KEY=VALUE"),
])
def test_bad_overrides(tmp_path: Path, override: str, msg: str) -> None:
    f = tmp_path / "data.yaml"
    f.write_text("source: synth\n")
    with pytest.raises(ConfigError, match=msg):
        load_params(f, DataParams, [override])


def test_nearest_key_hint(tmp_path: Path) -> None:
    f = tmp_path / "data.yaml"
    f.write_text("sorce: synth\n")
    with pytest.raises(ConfigError) as e:
        load_params(f, DataParams)
    assert "unknown key 'sorce'" in str(e.value) and e.value.hint == "did you mean 'source'?"
    with pytest.raises(ConfigError) as e:
        load_params(f, DataParams, ["synth.imags=3"])
    assert e.value.hint == "did you mean 'images'?"


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "data.yaml"
    f.write_text("source: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(f, DataParams)
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "missing.yaml", DataParams)
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(f, DataParams)


def test_run_params_map_flags_and_are_recorded(tmp_path: Path) -> None:
    import yaml

    from pose.params import PoseParams, load_run_params, record_params

    f = tmp_path / "pose.yaml"
    f.write_text("model: {preset: rtmpose-t}\n")
    p = load_run_params(f, PoseParams, ["train.epochs=3"], seed=7, deterministic=True, autoscale_lr=True)
    assert (p.train.epochs, p.train.seed, p.train.deterministic, p.train.autoscale_lr) == (3, 7, True, True)
    assert not (tmp_path / "w").exists()
    record_params(tmp_path / "w", p)
    recorded = yaml.safe_load((tmp_path / "w" / "params.yaml").read_text())
    assert recorded["train"]["seed"] == 7 and recorded["model"]["preset"] == "rtmpose-t"


def test_overrides_inside_aug(tmp_path: Path) -> None:
    from pose.params import AugConfig, PoseParams

    f = tmp_path / "pose.yaml"
    f.write_text("aug: {}\n")
    p = load_params(f, PoseParams, ["aug.rotate_factor=30", "aug.scale_range=[0.8, 1.2]"])
    assert p.aug == AugConfig(rotate_factor=30, scale_range=(0.8, 1.2))
    with pytest.raises(ConfigError, match="unknown key 'aug.rotation'") as e:
        load_params(f, PoseParams, ["aug.rotation=30"])
    assert (e.value.hint or "").startswith("did you mean '")
    f.write_text("aug: {flip_prob: 1.5}\n")
    with pytest.raises(ConfigError, match="aug.flip_prob: probability must be in") as e:
        load_params(f, PoseParams)
    assert e.value.file == str(f)
    with pytest.raises(ConfigError, match="unknown key 'model.presett'"):
        load_params(f, PoseParams, ["model.presett=x"])
