"""MSRA heatmaps (plain and DARK): round trips, hand-made maps, weights, flips, torch/numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.codecs import ops
from pose.codecs.msra import MSRAHeatmap

from codec_cases import COCO_FLIP, flip_keypoints, mmpose_dark, noisy_predictions, random_keypoints

SIGMA_MARGIN = 3 * 2.0 * 4 + 8  # 3 sigma in input pixels plus the DARK stencil


def round_trip_error(codec: MSRAHeatmap, kp: np.ndarray) -> np.ndarray:
    enc = codec.encode(kp, np.full(kp.shape[:2], 2, np.uint8))
    dec, _ = codec.decode(enc["heatmaps"])
    return np.linalg.norm(dec - kp, axis=-1)


def test_round_trip_plain_below_one_pixel() -> None:
    err = round_trip_error(MSRAHeatmap(), random_keypoints(32, 17, SIGMA_MARGIN))
    assert err.mean() < 1.0
    assert err.max() < np.hypot(1.0, 1.0) + 1e-3  # quarter-step bound: s/4 per axis


def test_round_trip_dark_below_tenth_pixel() -> None:
    err = round_trip_error(MSRAHeatmap(dark=True), random_keypoints(32, 17, SIGMA_MARGIN))
    assert err.mean() < 0.1


def test_round_centres_is_mmpose_target_with_half_stride_error() -> None:
    codec = MSRAHeatmap(round_centres=True)
    kp = random_keypoints(8, 17, SIGMA_MARGIN)
    maps = codec.encode(kp, np.ones(kp.shape[:2]))["heatmaps"]
    centre = np.floor(kp / 4 + 0.5).astype(int)
    peak = maps[0, 0, centre[0, 0, 1], centre[0, 0, 0]]
    assert peak == pytest.approx(1.0)
    err = np.abs(codec.decode(maps)[0] - kp)
    assert err.max() <= 2.0 + 1e-4


def test_hand_made_map_plain_quarter_step() -> None:
    maps = np.zeros((1, 1, 64, 48), np.float32)
    maps[0, 0, 20, 10] = 1.0
    maps[0, 0, 20, 11] = 0.6  # right neighbour higher: +1/4 in x
    maps[0, 0, 19, 10] = 0.3  # upper neighbour higher: -1/4 in y
    kp, score = MSRAHeatmap().decode(maps)
    np.testing.assert_allclose(kp[0, 0], [10.25 * 4, 19.75 * 4])
    assert score[0, 0] == pytest.approx(1.0)


def test_hand_made_gaussian_dark_finds_sub_pixel_centre() -> None:
    ys, xs = np.mgrid[0:64, 0:48].astype(np.float32)
    centre = (21.3, 37.8)  # heatmap pixels
    g = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 2.0**2))
    kp, _ = MSRAHeatmap(dark=True).decode(g[None, None])
    np.testing.assert_allclose(kp[0, 0], np.array(centre) * 4, atol=0.02)


def test_dark_matches_mmpose_reference_on_noisy_maps() -> None:
    codec = MSRAHeatmap(dark=True)
    maps, _ = noisy_predictions(codec, 2, seed=3)
    ours = codec.decode(maps)[0] / 4
    ref = np.stack([mmpose_dark(m, codec.blur_kernel_size) for m in maps])
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_invisible_and_far_keypoints_get_zero_weight_and_empty_maps() -> None:
    codec = MSRAHeatmap()
    kp = np.array([[[50, 60], [np.nan, np.nan], [-40, 10], [-10, 10], [100, 400]]], np.float32)
    vis = np.array([[2, 0, 2, 2, 2]], np.uint8)
    enc = codec.encode(kp, vis)
    # -10 px is -2.5 heatmap px: still within 3 sigma, its Gaussian tail trains (as MMPose).
    assert enc["keypoint_weights"].tolist() == [[1, 0, 0, 1, 0]]
    assert enc["heatmaps"].dtype == np.float32 and np.isfinite(enc["heatmaps"]).all()
    assert (enc["heatmaps"][0, [1, 2, 4]] == 0).all() and enc["heatmaps"][0, 3].max() > 0


def test_flip_with_round_centres_is_exact_on_stride_aligned_pixels() -> None:
    codec = MSRAHeatmap(round_centres=True)
    rng = np.random.default_rng(0)
    x = 4 * rng.integers(8, 38, (4, 17)) + 3  # x mod s == s - 1, away from the edge column
    y = rng.uniform(20, 230, (4, 17))
    kp = np.stack([x, y], -1).astype(np.float32)
    vis = np.full(kp.shape[:2], 2, np.uint8)
    vis[0, 3] = 0
    flipped = codec.flip(codec.encode(kp, vis), COCO_FLIP)
    expected = codec.encode(*flip_keypoints(kp, vis, COCO_FLIP))
    np.testing.assert_array_equal(flipped["keypoint_weights"], expected["keypoint_weights"])
    np.testing.assert_allclose(flipped["heatmaps"], expected["heatmaps"], atol=1e-6)


def test_flip_dark_is_biased_by_one_input_pixel() -> None:
    codec = MSRAHeatmap(dark=True)
    kp = random_keypoints(8, 17, SIGMA_MARGIN)
    vis = np.full(kp.shape[:2], 2, np.uint8)
    via_flip = codec.decode(codec.flip(codec.encode(kp, vis), COCO_FLIP)["heatmaps"])[0]
    direct = codec.decode(codec.encode(*flip_keypoints(kp, vis, COCO_FLIP))["heatmaps"])[0]
    np.testing.assert_allclose(via_flip[..., 0] - direct[..., 0], 1.0, atol=0.02)
    np.testing.assert_allclose(via_flip[..., 1], direct[..., 1], atol=0.02)


@pytest.mark.parametrize("dark", [False, True])
def test_torch_and_numpy_decode_agree(dark: bool) -> None:
    codec = MSRAHeatmap(dark=dark)
    maps, _ = noisy_predictions(codec, 3, seed=1)
    kp_np, sc_np = codec.decode(maps)
    kp_t, sc_t = codec.decode(torch.from_numpy(maps))
    assert isinstance(kp_t, torch.Tensor) and isinstance(kp_np, np.ndarray)
    assert kp_t.shape == (3, 17, 2) and sc_t.shape == (3, 17)
    np.testing.assert_allclose(kp_t.numpy(), kp_np, atol=1e-5)
    np.testing.assert_allclose(sc_t.numpy(), sc_np)
    flip_t = codec.flip_outputs(torch.from_numpy(maps), COCO_FLIP)
    np.testing.assert_array_equal(flip_t.numpy(), codec.flip_outputs(maps, COCO_FLIP))


def test_decode_is_vectorised_over_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = MSRAHeatmap(dark=True)
    calls = []
    real = ops.window_at
    monkeypatch.setattr(ops, "window_at", lambda *a: calls.append(1) or real(*a))
    maps, _ = noisy_predictions(codec, 6, seed=2)
    batch = codec.decode(maps)[0]
    per_batch = len(calls)
    single = np.concatenate([codec.decode(maps[i : i + 1])[0] for i in range(6)])
    assert len(calls) == 7 * per_batch  # same number of stencil reads for 1 or 6 instances
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_encode_is_batched_with_leading_n() -> None:
    codec = MSRAHeatmap(input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)
    enc = codec.encode(random_keypoints(5, 4, 12, size=(96, 128)), np.ones((5, 4)))
    assert enc["heatmaps"].shape == (5, 4, 32, 24) and enc["keypoint_weights"].shape == (5, 4)
    assert codec.blur_kernel_size == 7


def test_decode_rejects_wrong_heatmap_shape() -> None:
    with pytest.raises(ValueError, match=r"\(B, K, 64, 48\)"):
        MSRAHeatmap().decode(np.zeros((1, 17, 48, 64), np.float32))
