"""Losses against direct formulas of MMPose's definitions."""

from __future__ import annotations

import math

import pytest
import torch

from pose.errors import ConfigError
from pose.models.losses import KeypointMSELoss, KLDiscretLoss, SmoothL1Loss, build_loss


@pytest.fixture
def maps() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 4, 3, 5, generator=g)
    target = torch.rand(2, 4, 3, 5, generator=g)
    weights = torch.tensor([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 2.0]])
    return pred, target, weights


def test_mse_weights_each_keypoint(maps) -> None:
    pred, target, w = maps
    expected = sum(
        w[b, k] * ((pred[b, k] - target[b, k]) ** 2).sum() for b in range(2) for k in range(4)
    ) / pred.numel()
    torch.testing.assert_close(KeypointMSELoss()(pred, target, w), expected)
    torch.testing.assert_close(
        KeypointMSELoss(use_target_weight=False)(pred, target, w), ((pred - target) ** 2).mean()
    )
    assert KeypointMSELoss()(pred, target, torch.zeros_like(w)) == 0


def test_ohkm_averages_the_hardest_keypoints(maps) -> None:
    pred, target, w = maps
    per_kpt = ((pred - target) * w[..., None, None]).pow(2).mean((2, 3))
    expected = torch.stack([row.sort(descending=True).values[:2].mean() for row in per_kpt]).mean()
    torch.testing.assert_close(KeypointMSELoss(ohkm_topk=2)(pred, target, w), expected)
    with pytest.raises(ConfigError, match="ohkm_topk"):
        KeypointMSELoss(ohkm_topk=5)(pred, target, w)


def test_kl_discret_matches_the_formula() -> None:
    g = torch.Generator().manual_seed(1)
    px, py = torch.randn(3, 2, 8, generator=g), torch.randn(3, 2, 6, generator=g)
    tx, ty = torch.rand(3, 2, 8, generator=g), torch.rand(3, 2, 6, generator=g)
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.5, 1.0]])
    beta = 10.0
    total = 0.0
    for p, t in ((px, tx), (py, ty)):
        for b in range(3):
            for k in range(2):
                q = torch.softmax(t[b, k] * beta, 0)
                logp = torch.log_softmax(p[b, k] * beta, 0)
                total += w[b, k] * (q * (q.log() - logp)).mean()
    loss = KLDiscretLoss(beta=beta)((px, py), (tx, ty), w)
    torch.testing.assert_close(loss, total / 2)


def test_kl_discret_is_zero_at_the_target_and_sums_over_the_batch() -> None:
    g = torch.Generator().manual_seed(2)
    t = (torch.rand(2, 3, 10, generator=g), torch.rand(2, 3, 7, generator=g))
    w = torch.ones(2, 3)
    loss_fn = KLDiscretLoss()
    assert loss_fn(t, t, w).abs() < 1e-6
    p = (torch.randn(2, 3, 10, generator=g), torch.randn(2, 3, 7, generator=g))
    double = tuple(torch.cat((a, a)) for a in p), tuple(torch.cat((a, a)) for a in t)
    torch.testing.assert_close(loss_fn(*double, torch.ones(4, 3)), 2 * loss_fn(p, t, w))


def test_smooth_l1_on_weighted_coordinates() -> None:
    pred = torch.tensor([[[0.0, 0.0], [3.0, 0.5]]])
    target = torch.tensor([[[0.2, 0.0], [0.0, 0.0]]])
    w = torch.tensor([[1.0, 1.0]])
    expected = (0.5 * 0.2**2 + (3.0 - 0.5) + 0.5 * 0.5**2) / 4
    assert SmoothL1Loss()(pred, target, w).item() == pytest.approx(expected)
    assert SmoothL1Loss()(pred, target, torch.zeros_like(w)).item() == 0


def test_losses_give_gradients(maps) -> None:
    pred, target, w = maps
    pred.requires_grad_(True)
    KeypointMSELoss(ohkm_topk=2)(pred, target, w).backward()
    assert pred.grad is not None and math.isfinite(pred.grad.abs().sum().item()) and pred.grad.abs().sum() > 0


def test_build_loss_names_and_errors() -> None:
    assert isinstance(build_loss("kl_discret", beta=5.0), KLDiscretLoss)
    with pytest.raises(ConfigError) as err:
        build_loss("focal")
    assert err.value.entry == "loss.name"
    with pytest.raises(ConfigError) as err:
        build_loss("mse", beta=1.0)
    assert err.value.entry == "loss"
