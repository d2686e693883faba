"""UDP heatmaps: round trip, MMPose parity, hand-made maps, weights, exact flips, torch/numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.codecs.udp import UDPHeatmap

from codec_cases import COCO_FLIP, flip_keypoints, mmpose_dark_udp, noisy_predictions, random_keypoints

SCALE = np.array([191 / 47, 255 / 63], np.float32)


def mmpose_udp_target(u: np.ndarray, size: tuple[int, int], sigma: float) -> np.ndarray:
    """One (H, W) map as MMPose's ``generate_udp_gaussian_heatmaps`` draws it (u in heatmap px)."""
    w, h = size
    r = int(3 * sigma)
    mu = (u + 0.5).astype(int)
    ys, xs = np.mgrid[0:h, 0:w]
    g = np.exp(-((xs - u[0]) ** 2 + (ys - u[1]) ** 2) / (2 * sigma**2))
    window = (np.abs(xs - mu[0]) <= r) & (np.abs(ys - mu[1]) <= r)
    return (g * window).astype(np.float32)


def test_round_trip_below_tenth_pixel() -> None:
    codec = UDPHeatmap()
    kp = random_keypoints(32, 17, margin=3 * 2 * 4 + 4)
    dec, scores = codec.decode(codec.encode(kp, np.full(kp.shape[:2], 2))["heatmaps"])
    assert np.linalg.norm(dec - kp, axis=-1).mean() < 0.1
    assert scores.min() > 0.9


def test_round_trip_on_the_border_pixels() -> None:
    codec = UDPHeatmap()
    kp = np.array([[[191.0, 255.0], [0.0, 0.0]]], np.float32)
    dec, _ = codec.decode(codec.encode(kp, np.ones((1, 2)))["heatmaps"])
    np.testing.assert_allclose(dec, kp, atol=0.05)


def test_encode_matches_mmpose_window() -> None:
    codec = UDPHeatmap()
    kp = random_keypoints(1, 17, margin=0, seed=5)
    maps = codec.encode(kp, np.ones((1, 17)))["heatmaps"]
    for k in range(17):
        ref = mmpose_udp_target(kp[0, k] / SCALE, (48, 64), 2.0)
        np.testing.assert_allclose(maps[0, k], ref, atol=1e-6)


def test_decode_matches_mmpose_reference_on_noisy_maps() -> None:
    codec = UDPHeatmap()
    maps, _ = noisy_predictions(codec, 2, seed=4)
    ours = codec.decode(maps)[0] / SCALE
    ref = np.stack([mmpose_dark_udp(m, codec.blur_kernel_size) for m in maps])
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_hand_made_gaussian_decodes_to_its_centre() -> None:
    ys, xs = np.mgrid[0:64, 0:48].astype(np.float32)
    centre = np.array([30.6, 12.2], np.float32)
    g = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 2.0**2))
    kp, score = UDPHeatmap().decode(torch.from_numpy(g)[None, None])
    np.testing.assert_allclose(kp[0, 0].numpy(), centre * SCALE, atol=0.05)
    assert score[0, 0].item() == pytest.approx(g.max())


def test_invisible_and_far_keypoints_get_zero_weight() -> None:
    codec = UDPHeatmap()
    kp = np.array([[[50, 60], [50, 60], [300, 60], [50, -200]]], np.float32)
    enc = codec.encode(kp, np.array([[2, 0, 1, 2]], np.uint8))
    assert enc["keypoint_weights"].tolist() == [[1, 0, 0, 0]]
    assert (enc["heatmaps"][0, 1:] == 0).all()


def test_flip_of_targets_is_exact() -> None:
    codec = UDPHeatmap()
    kp = random_keypoints(6, 17, margin=-20, seed=7)  # edges and just outside included
    vis = np.random.default_rng(7).integers(0, 3, kp.shape[:2]).astype(np.uint8)
    flipped = codec.flip(codec.encode(kp, vis), COCO_FLIP)
    expected = codec.encode(*flip_keypoints(kp, vis, COCO_FLIP))
    np.testing.assert_array_equal(flipped["keypoint_weights"], expected["keypoint_weights"])
    np.testing.assert_allclose(flipped["heatmaps"], expected["heatmaps"], rtol=1e-5, atol=1e-6)


def test_torch_and_numpy_decode_agree() -> None:
    codec = UDPHeatmap()
    maps, _ = noisy_predictions(codec, 4, seed=8)
    kp_np, sc_np = codec.decode(maps)
    kp_t, sc_t = codec.decode(torch.from_numpy(maps).half())
    assert kp_t.shape == (4, 17, 2) and sc_t.shape == (4, 17)
    np.testing.assert_allclose(kp_t.numpy(), kp_np, atol=0.05)  # half-precision input
    np.testing.assert_allclose(codec.decode(torch.from_numpy(maps))[0].numpy(), kp_np, atol=1e-5)


def test_batch_decode_equals_per_instance_decode() -> None:
    codec = UDPHeatmap()
    maps, _ = noisy_predictions(codec, 5, seed=9)
    batch = codec.decode(maps)[0]
    single = np.concatenate([codec.decode(maps[i : i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(batch, single, atol=1e-5)
