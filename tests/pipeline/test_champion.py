"""Warm-started retraining (train.init: champion) on a real MLflow sqlite store with tiny models:
a champion that fits is the weights training starts from (checked before the first step), its
version is the lineage of the run and of the new registered version; one that does not fit, or no
registry at all, leaves the configured init with one warning naming why."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from typer.testing import CliRunner

from pose import tracking
from pose.cli import app
from pose.data.layout import load_dataset
from pose.data.meta import DatasetMeta
from pose.data.synth import generate
from pose.engine.checkpoint import load_checkpoint, save_checkpoint
from pose.errors import CheckpointError
from pose.models import TopdownPoseEstimator
from pose.modelio.foreign import read_checkpoint
from pose.params import PoseParams
from pose.pipeline.champion import champion_stage, resolve, stale_choices
from pose.publish import registry
from pose.publish.command import publish
from pose.recipes.topdown import build_pose_model, checkpoint_config
from pose.recipes.warmstart import Choice, read_choice, warm_start

TRAIN = {"epochs": 5, "finetune_epochs": 1, "batch_size": 4, "workers": 0, "warmup_iters": 1, "amp": "none", "init": "champion"}


def pose_params(ds: Path, preset: str = "rtmpose-t", **train: Any) -> PoseParams:
    return PoseParams.model_validate({"dataset": str(ds), "model": {"preset": preset, "input_size": [64, 64]},
                                      "train": {**TRAIN, **train}, "test": {"batch_size": 8, "flip": False}})


def published_model(root: Path, ds: Path, meta: DatasetMeta | None = None) -> Path:
    """An untrained rtmpose-t for ``ds`` (seed 1, so not what a run's own seed-0 init gives), published."""
    params = pose_params(ds)
    meta = meta or load_dataset(ds, split="val")[1]
    torch.manual_seed(1)
    model = build_pose_model(params, meta)
    ckpt = root / f"champion-{meta.keypoint_names[0]}.pth"
    save_checkpoint(ckpt, {"model": model.state_dict(), "epoch": 1, "history": [], "config": checkpoint_config(params, meta, model)})
    return publish(ckpt, root / "published", metrics={"AP": 0.1}, onnx=False).path


def register_champion(root: Path, ds: Path, meta: DatasetMeta | None = None, *, promote: bool = True) -> tuple[str, Path]:
    """``published_model`` registered (and promoted, the first time): (registered name, published file)."""
    path = published_model(root, ds, meta)
    reg = registry.register(path, root=root)
    if promote:
        registry.promote_if_better(reg["name"], reg["version"], 0.1, None, root=root)
    return reg["name"], path


class FirstForward:
    """A global forward pre-hook: the estimator's state dict when it first runs (the first training step)."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] | None = None

    def __call__(self, module: torch.nn.Module, args: Any) -> None:
        if self.state is None and isinstance(module, TopdownPoseEstimator):
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, kind="human", images=10, seed=3, size=128, val_fraction=0.3, progress=False)
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, ds: Path) -> tuple[Path, str, Path]:
    """(project root with a store, the champion's registered name, its published file)."""
    mp = pytest.MonkeyPatch()
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV, "POSE_TRACK"):
        mp.delenv(var, raising=False)
    root = tmp_path_factory.mktemp("project")
    name, path = register_champion(root, ds)
    yield root, name, path
    mp.undo()


@pytest.mark.slow
def test_fitting_champion_is_the_init_and_the_lineage(store: tuple[Path, str, Path], ds: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    root, name, published = store
    monkeypatch.setenv(tracking.ROOT_ENV, str(root))
    config = tmp_path / "pose.yaml"
    config.write_text(yaml.safe_dump(pose_params(ds).model_dump(mode="json")))
    choices = champion_stage(str(ds), tmp_path / "champion", {"pose": config}, root=root)
    assert choices["pose"].use and choices["pose"].version == "1", choices
    assert read_choice(tmp_path / "champion" / "pose.json", "pose") == choices["pose"]

    hook = FirstForward()
    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        r = CliRunner().invoke(app, ["train", str(config), "--work-dir", str(tmp_path / "work"), "--no-validate", "--track",
                                     "--champion", str(tmp_path / "champion" / "pose.json")])
    finally:
        handle.remove()
    assert r.exit_code == 0, r.output
    champion = read_checkpoint(published)["state_dict"]
    assert hook.state is not None and hook.state.keys() == champion.keys()
    for k, v in champion.items():
        assert torch.equal(hook.state[k].float(), v.float()), f"{k} is not the champion's before the first step"

    state = load_checkpoint(tmp_path / "work" / "latest.pth")
    assert state["epoch"] == 1  # train.finetune_epochs, not train.epochs
    assert state["config"]["init"]["parent"] == {"name": name, "version": "1", "sha256": choices["pose"].sha256}
    runs = tracking.client(root).search_runs([tracking.experiment_id(root=root)], filter_string="tags.`pose.train_init` = 'champion'")
    assert [(x.data.tags["pose.init.parent_model"], x.data.tags["pose.init.parent_version"]) for x in runs] == [(name, "1")]

    pm = publish(tmp_path / "work" / "latest.pth", tmp_path / "pub", metrics={"AP": 0.2}, onnx=False)
    assert f"warm-started from {name} v1" in pm.card.read_text()
    reg = registry.register(pm.path, root=root)
    tags = tracking.client(root).get_model_version(name, reg["version"]).tags
    assert (tags["pose.init.parent_model"], tags["pose.init.parent_version"], tags["pose.init.parent"]) == (name, "1", f"{name} v1")


@pytest.mark.slow
def test_champion_that_does_not_fit_falls_back_with_one_warning(store: tuple[Path, str, Path], ds: Path, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    root, name, _ = store
    params = pose_params(ds, preset="simplebaseline-r18")
    choice = resolve("pose", params, tmp_path, root=root)
    assert not choice.use and choice.reason.startswith("other preset") and choice.version == "1"
    assert not (tmp_path / "pose.pth").exists()
    with caplog.at_level(logging.WARNING, logger="pose"):
        trained, final = warm_start(choice, params)
    assert trained == params and final.parent is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"train.init is champion, but {choice.reason}: training from the configured init (the preset's default init, 5 epochs)"]
    assert final.tags() == {"pose.train_init": "configured", "pose.train_init.fallback": choice.reason}


@pytest.mark.slow
def test_other_keypoints_and_other_dataset_are_refused(store: tuple[Path, str, Path], ds: Path, tmp_path: Path) -> None:
    root, name, _ = store
    _, meta = load_dataset(ds, split="val")
    first = meta.keypoint_names[0]
    d = json.loads(json.dumps(meta.to_dict()).replace(f'"{first}"', f'"{first}_x"'))  # renamed everywhere it is named
    other = tmp_path / "root"
    other.mkdir()
    register_champion(other, ds, DatasetMeta.from_dict(d, source="test"))
    choice = resolve("pose", pose_params(ds), tmp_path, root=other)
    assert not choice.use and choice.reason.startswith("other keypoints"), choice

    d = meta.to_dict() | {"name": "elsewhere"}
    (tmp_path / "ds2").mkdir()
    for f in ("annotations", "images"):
        (tmp_path / "ds2" / f).symlink_to(ds / f)
    (tmp_path / "ds2" / "meta.yaml").write_text(yaml.safe_dump(d))
    choice = resolve("pose", pose_params(tmp_path / "ds2"), tmp_path, root=root)
    assert not choice.use and choice.reason == f"no champion of 'elsewhere-pose' in the registry (the registry's pose " \
                                              f"champions are for other datasets: {name})"


def test_warm_start_swaps_init_and_schedule_for_a_fitting_file(ds: Path, tmp_path: Path) -> None:
    from pose.fileio import sha256_file
    from pose.params import DetectorParams

    path = published_model(tmp_path, ds)
    choice = Choice("pose", "champion", use=True, reason="fits", name="coco-pose", version="7", sha256=sha256_file(path), file=str(path))
    params, final = warm_start(choice, pose_params(ds, epochs=30, finetune_epochs=4))
    assert (params.model.pretrained, params.train.epochs, final.parent["version"]) == (str(path), 4, "7")
    assert warm_start(choice, pose_params(ds, epochs=30, finetune_epochs=None))[0].train.epochs == 30
    det = DetectorParams.model_validate({"dataset": str(ds), "train": {"init": "champion"}})
    with pytest.raises(CheckpointError, match="the detector model"):
        read_choice(write_choice_file(tmp_path / "c.json", choice), "detector")
    assert warm_start(Choice("detector", "champion", reason="no registry"), det)[0] is det


def write_choice_file(path: Path, choice: Choice) -> Path:
    from pose.recipes.warmstart import write_choice

    write_choice(path, choice)
    return path


def test_no_registry_keeps_the_configured_init(ds: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = pose_params(ds)
    choice = resolve("pose", params, tmp_path / "c", root=tmp_path)
    assert not choice.use and choice.reason.startswith("no registry") and not (tmp_path / "mlruns").exists()
    with caplog.at_level(logging.WARNING, logger="pose"):
        trained, _ = warm_start(choice, params)
    assert trained is params and len([r for r in caplog.records if "no registry" in r.getMessage()]) == 1
    configured = resolve("pose", pose_params(ds, init="configured"), tmp_path / "c", root=tmp_path)
    assert configured == Choice("pose") and warm_start(configured, params)[0] is params


@pytest.mark.slow
def test_changed_champion_weights_are_an_error(store: tuple[Path, str, Path], ds: Path, tmp_path: Path) -> None:
    root, _, _ = store
    choice = resolve("pose", pose_params(ds), tmp_path, root=root)
    Path(str(choice.file)).write_bytes(b"not the champion")
    with pytest.raises(CheckpointError, match="weights changed"):
        warm_start(choice, pose_params(ds))


@pytest.mark.slow
def test_a_champion_moved_elsewhere_invalidates_the_choice(store: tuple[Path, str, Path], ds: Path, tmp_path: Path) -> None:
    root, name, _ = store
    folder = root / "build" / "champion"
    config = tmp_path / "pose.yaml"
    config.write_text(yaml.safe_dump(pose_params(ds).model_dump(mode="json")))
    first = champion_stage(str(ds), folder, {"pose": config}, root=root)["pose"]
    assert stale_choices(root) == [] and (folder / "pose.json").is_file()
    newer = register_champion(root, ds, promote=False)[1]
    version = registry.aliases(name, root=root)["challenger"]
    registry.promote_if_better(name, version, 0.9, 0.0, root=root)
    (root / "build" / "publish").mkdir(parents=True)
    sha = tracking.client(root).get_model_version(name, version).tags["pose.sha256"]
    (root / "build" / "publish" / "publish.json").write_text(json.dumps({"sha256": sha}))
    assert stale_choices(root) == [], "a champion this pipeline published itself keeps the choice"
    (root / "build" / "publish" / "publish.json").write_text(json.dumps({"sha256": "0" * 64}))
    assert stale_choices(root) == ["pose"] and not (folder / "pose.json").exists()
    again = champion_stage(str(ds), folder, {"pose": config}, root=root)["pose"]
    assert again.version == version != first.version and newer.is_file()
