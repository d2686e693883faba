"""Regression labels: round trip, weights, exact flips, torch/numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.codecs.regression import RegressionLabel

from codec_cases import COCO_FLIP, flip_keypoints, random_keypoints


def test_round_trip_is_exact_to_float_precision() -> None:
    codec = RegressionLabel()
    kp = random_keypoints(16, 17, margin=0)
    enc = codec.encode(kp, np.full(kp.shape[:2], 2))
    assert enc["coords"].min() >= 0 and enc["coords"].max() < 1
    dec, scores = codec.decode(enc["coords"])
    np.testing.assert_allclose(dec, kp, atol=1e-4)
    assert (scores == 1).all() and scores.shape == (16, 17)


def test_hand_made_coordinates_decode_to_pixels() -> None:
    kp, _ = RegressionLabel(input_size=(100, 200)).decode(torch.tensor([[[0.5, 0.25], [0.0, 1.0]]]))
    np.testing.assert_allclose(kp.numpy(), [[[50.0, 50.0], [0.0, 200.0]]])


def test_invisible_and_outside_keypoints_get_zero_weight() -> None:
    kp = np.array([[[10, 10], [10, 10], [-1, 10], [10, 257], [191, 255]]], np.float32)
    enc = RegressionLabel().encode(kp, np.array([[2, 0, 2, 2, 1]], np.uint8))
    assert enc["keypoint_weights"].tolist() == [[1, 0, 0, 0, 1]]


def test_flip_of_targets_is_exact() -> None:
    codec = RegressionLabel()
    kp = random_keypoints(5, 17, margin=0, seed=3)
    vis = np.full(kp.shape[:2], 2, np.uint8)
    flipped = codec.flip(codec.encode(kp, vis), COCO_FLIP)
    expected = codec.encode(*flip_keypoints(kp, vis, COCO_FLIP))
    np.testing.assert_array_equal(flipped["keypoint_weights"], expected["keypoint_weights"])
    np.testing.assert_allclose(flipped["coords"], expected["coords"], atol=1e-6)


def test_torch_and_numpy_agree() -> None:
    codec = RegressionLabel()
    coords = np.random.default_rng(0).random((4, 17, 2), dtype=np.float32)
    kp_t, sc_t = codec.decode(torch.from_numpy(coords))
    np.testing.assert_allclose(kp_t.numpy(), codec.decode(coords)[0])
    assert isinstance(sc_t, torch.Tensor)
    flip_t = codec.flip_outputs(torch.from_numpy(coords), COCO_FLIP)
    np.testing.assert_allclose(flip_t.numpy(), codec.flip_outputs(coords, COCO_FLIP))
    assert not np.shares_memory(codec.flip_outputs(coords, COCO_FLIP), coords)


def test_decode_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(B, K, 2\)"):
        RegressionLabel().decode(np.zeros((17, 2), np.float32))
