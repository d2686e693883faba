"""SimCC labels: round trip, min-of-maxima scores, weights, flips, torch/numpy, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.codecs.simcc import SimCCLabel
from pose.errors import ConfigError

from codec_cases import COCO_FLIP, flip_keypoints, random_keypoints


def test_round_trip_below_0_3_pixel() -> None:
    codec = SimCCLabel()
    kp = random_keypoints(32, 17, margin=3 * 5.66 / 2)
    enc = codec.encode(kp, np.full(kp.shape[:2], 2))
    dec, scores = codec.decode((enc["simcc_x"], enc["simcc_y"]))
    err = np.abs(dec - kp)
    assert np.linalg.norm(dec - kp, axis=-1).mean() < 0.3
    assert err.max() <= 0.25 + 1e-4  # half a bin at split ratio 2
    assert scores.min() > 0.9


def test_targets_shapes_and_sub_bin_centre() -> None:
    codec = SimCCLabel(sigma=6.0)
    enc = codec.encode(np.array([[[10.3, 20.0]]], np.float32), np.ones((1, 1)))
    assert codec.sigma == (6.0, 6.0)
    assert enc["simcc_x"].shape == (1, 1, 384) and enc["simcc_y"].shape == (1, 1, 512)
    x = np.arange(384)
    np.testing.assert_allclose(enc["simcc_x"][0, 0], np.exp(-((x - 20.6) ** 2) / 72), atol=1e-6)


def test_normalize_divides_by_gaussian_integral() -> None:
    kp, vis = np.array([[[50.0, 60.0]]], np.float32), np.ones((1, 1))
    plain = SimCCLabel().encode(kp, vis)["simcc_y"]
    norm = SimCCLabel(normalize=True).encode(kp, vis)["simcc_y"]
    np.testing.assert_allclose(norm, plain / (5.66 * np.sqrt(2 * np.pi)), rtol=1e-6, atol=1e-12)
    assert norm.sum() == pytest.approx(1.0, rel=1e-3)


def test_hand_made_vectors_decode_and_score_is_min_of_maxima() -> None:
    sx = np.zeros((1, 2, 384), np.float32)
    sy = np.zeros((1, 2, 512), np.float32)
    sx[0, 0, 101], sy[0, 0, 40] = 0.9, 0.4
    sx[0, 1, 7], sy[0, 1, 300] = 0.2, 0.7
    kp, scores = SimCCLabel().decode((sx, sy))
    np.testing.assert_allclose(kp[0], [[50.5, 20.0], [3.5, 150.0]])
    np.testing.assert_allclose(scores[0], [0.4, 0.2])


def test_invisible_and_out_of_range_keypoints_get_zero_weight() -> None:
    codec = SimCCLabel()
    kp = np.array([[[50, 60], [50, 60], [-30, 60], [50, 300], [-3, 60]]], np.float32)
    enc = codec.encode(kp, np.array([[2, 0, 2, 2, 2]], np.uint8))
    assert enc["keypoint_weights"].tolist() == [[1, 0, 0, 0, 1]]
    assert (enc["simcc_x"][0, 1:4] == 0).all() and (enc["simcc_y"][0, 1:4] == 0).all()


def test_flip_of_targets_is_exact_but_the_vacated_last_bin() -> None:
    codec = SimCCLabel()
    kp = random_keypoints(6, 17, margin=16, seed=2)
    vis = np.full(kp.shape[:2], 2, np.uint8)
    vis[2, 5] = 0
    flipped = codec.flip(codec.encode(kp, vis), COCO_FLIP)
    expected = codec.encode(*flip_keypoints(kp, vis, COCO_FLIP))
    np.testing.assert_array_equal(flipped["keypoint_weights"], expected["keypoint_weights"])
    np.testing.assert_allclose(flipped["simcc_x"][..., :-1], expected["simcc_x"][..., :-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flipped["simcc_x"][..., -1], expected["simcc_x"][..., -1], atol=1e-3)
    np.testing.assert_array_equal(flipped["simcc_y"], expected["simcc_y"])


def test_torch_and_numpy_decode_and_flip_agree() -> None:
    codec = SimCCLabel()
    rng = np.random.default_rng(0)
    sx, sy = rng.random((3, 17, 384), np.float32), rng.random((3, 17, 512), np.float32)
    kp_np, sc_np = codec.decode((sx, sy))
    kp_t, sc_t = codec.decode((torch.from_numpy(sx), torch.from_numpy(sy)))
    assert kp_t.shape == (3, 17, 2) and sc_t.shape == (3, 17)
    np.testing.assert_array_equal(kp_t.numpy(), kp_np)
    np.testing.assert_array_equal(sc_t.numpy(), sc_np)
    fx_t, fy_t = codec.flip_outputs((torch.from_numpy(sx), torch.from_numpy(sy)), COCO_FLIP)
    fx, fy = codec.flip_outputs((sx, sy), COCO_FLIP)
    np.testing.assert_array_equal(fx_t.numpy(), fx)
    np.testing.assert_array_equal(fy_t.numpy(), fy)


def test_batch_decode_equals_per_instance_decode() -> None:
    codec = SimCCLabel(input_size=(96, 128))
    enc = codec.encode(random_keypoints(4, 5, 10, size=(96, 128)), np.ones((4, 5)))
    batch = codec.decode((enc["simcc_x"], enc["simcc_y"]))[0]
    single = np.concatenate([codec.decode((enc["simcc_x"][i : i + 1], enc["simcc_y"][i : i + 1]))[0] for i in range(4)])
    np.testing.assert_array_equal(batch, single)


def test_bad_sigma_and_shapes() -> None:
    with pytest.raises(ConfigError, match="codec.sigma"):
        SimCCLabel(sigma=(1.0, 2.0, 3.0))
    with pytest.raises(ConfigError, match="codec.sigma"):
        SimCCLabel(sigma=(1.0, -2.0))
    with pytest.raises(ValueError, match=r"\(B, K, 384\)"):
        SimCCLabel().decode((np.zeros((1, 17, 192)), np.zeros((1, 17, 512))))
