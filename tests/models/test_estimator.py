"""TopdownPoseEstimator: preprocessing, the three modes, the flip test, a few training steps."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from pose.data.meta import load_meta
from pose.errors import ConfigError
from pose.models import TopdownPoseEstimator, build_model
from pose.models.estimator import MEAN, STD

FLIP = load_meta("coco").flip_indices


@cache
def model(name: str, **kw) -> TopdownPoseEstimator:
    torch.manual_seed(0)
    return build_model(name, 17, flip_indices=FLIP, **kw).eval()


def images(b: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, 256, 192), generator=g, dtype=torch.uint8)


def targets(m: TopdownPoseEstimator, b: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    kp = rng.uniform(8, 180, (b, 17, 2)).astype(np.float32)
    vis = rng.integers(0, 3, (b, 17))
    return m.codec.encode(kp, vis)


def as_list(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_preprocess_normalises_per_channel(order: str) -> None:
    m = model("rtmpose-t", channel_order=order)
    x = torch.tensor([10, 100, 200], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    rgb = [10.0, 100.0, 200.0] if order == "rgb" else [200.0, 100.0, 10.0]
    expected = torch.tensor([(v - mu) / sd for v, mu, sd in zip(rgb, MEAN, STD)]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    torch.testing.assert_close(m.preprocess(x), expected)
    torch.testing.assert_close(m.preprocess(x.float()), expected)


def test_normalisation_buffers_stay_out_of_checkpoints() -> None:
    keys = model("rtmpose-t").state_dict().keys()
    assert not {"scale", "shift"} & set(keys)
    assert any(k.startswith("backbone.stem.0.conv") for k in keys)
    assert any(k.startswith("head.gau.uv") for k in keys)


def test_tensor_and_predict_modes_without_flip() -> None:
    m = model("rtmpose-t", flip_test=False)
    x = images()
    with torch.no_grad():
        out = m(x, mode="tensor")
        ref = m.network(m.preprocess(x))
    for a, b in zip(as_list(out), as_list(ref)):
        torch.testing.assert_close(a, b)
    kp, scores = m(x, mode="predict")
    ref_kp, ref_scores = m.codec.decode(ref)
    torch.testing.assert_close(kp, ref_kp)
    torch.testing.assert_close(scores, ref_scores)


@pytest.mark.parametrize("name", ["rtmpose-t", "simplebaseline-r18"])
def test_flip_test_commutes_with_mirroring_the_input(name: str) -> None:
    """Flip-averaged outputs of a mirrored image = the mirrored flip-averaged outputs
    (exact away from the edge bins a codec shift vacates)."""
    m = model(name)
    x = images(1, seed=3)
    direct = as_list(m.predict_outputs(x.flip(-1)))
    avg = m.predict_outputs(x)
    mirrored = as_list(m.codec.flip_outputs(avg, FLIP))
    for a, b in zip(direct, mirrored):
        torch.testing.assert_close(a[..., 1:-1], b[..., 1:-1], rtol=1e-4, atol=1e-5)
    plain = as_list(build_model(name, 17).eval().predict_outputs(x))
    assert not all(torch.allclose(a, b) for a, b in zip(as_list(avg), plain))


@pytest.mark.slow
def test_loss_mode_accepts_numpy_targets_and_trains() -> None:
    torch.manual_seed(0)
    m = build_model("rtmpose-t", 17).train()
    x, t = images(), targets(m)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss = m(x, t, mode="loss")["loss"]
        assert loss.ndim == 0 and torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_loss_mode_names_missing_targets() -> None:
    m = model("simplebaseline-r18")
    with pytest.raises(ValueError, match="heatmaps"):
        m(images(), {"keypoint_weights": np.ones((2, 17), np.float32)}, mode="loss")
    with pytest.raises(ValueError, match="unknown mode"):
        m(images(), mode="train")


def test_bad_channel_order() -> None:
    with pytest.raises(ConfigError) as err:
        build_model("rtmpose-t", 17, channel_order="bgra")
    assert err.value.entry == "model.channel_order"


@pytest.mark.slow
def test_loss_mode_compiles_without_graph_breaks() -> None:
    m = build_model("rtmpose-t", 17).train()
    x, t = images(), {k: torch.from_numpy(v) for k, v in targets(m).items()}
    compiled = torch.compile(lambda a, b: m(a, b, mode="loss")["loss"], backend="eager", fullgraph=True)
    torch.manual_seed(0)
    loss = compiled(x, t)
    loss.backward()
    assert torch.isfinite(loss) and m.head.cls_x.weight.grad is not None
