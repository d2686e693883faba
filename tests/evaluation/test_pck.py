"""PCK / AUC / EPE / NME on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from pose.evaluation.pck import auc, bbox_size, epe, keypoint_pair_size, nme, normalised_distances, pck, pck_from_distances


def offsets(dx: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """GT at the origin-ish grid and predictions shifted by ``dx`` along x: (N, K) offsets."""
    d = np.asarray(dx, np.float64)
    gt = np.zeros(d.shape + (2,))
    gt[..., 0] = np.arange(d.shape[1]) * 10.0
    pred = gt.copy()
    pred[..., 0] += d
    return pred, gt


def test_bbox_size_is_longer_side() -> None:
    assert bbox_size(np.array([[10, 20, 110, 70], [0, 0, 30, 90]])).tolist() == [100.0, 90.0]


def test_pck_hand_computed() -> None:
    # two instances, box size 100 -> PCK@0.1 radius 10 px
    pred, gt = offsets([[5, 15, 9.9], [0, 2, 30]])
    mask = np.ones((2, 3), bool)
    # per keypoint: k0 2/2, k1 1/2, k2 1/2 -> mean 2/3
    assert pck(pred, gt, mask, np.array([100.0, 100.0]), 0.1) == pytest.approx(2 / 3)
    # PCK@0.05 (5 px, strict <): k0 1/2 (5 is not < 5), k1 1/2, k2 0/2 -> 1/3
    assert pck(pred, gt, mask, np.array([100.0, 100.0]), 0.05) == pytest.approx(1 / 3)


def test_pck_averages_over_keypoint_types_not_instances() -> None:
    pred, gt = offsets([[0, 50], [0, 0], [0, 0]])
    mask = np.array([[True, True], [True, False], [True, False]])
    # k0: 3/3, k1: 0/1 -> macro mean 0.5 (a micro mean would be 3/4)
    assert pck(pred, gt, mask, 100.0, 0.1) == pytest.approx(0.5)


def test_unlabelled_and_zero_size_instances_are_ignored() -> None:
    pred, gt = offsets([[0, 99], [99, 99]])
    mask = np.array([[True, False], [True, True]])
    d = normalised_distances(pred, gt, mask, np.array([100.0, 0.0]))
    assert np.isnan(d[0, 1]) and np.isnan(d[1]).all()
    assert pck(pred, gt, mask, np.array([100.0, 0.0]), 0.1) == pytest.approx(1.0)


def test_pck_nothing_labelled_is_zero() -> None:
    pred, gt = offsets([[1, 2]])
    assert pck(pred, gt, np.zeros((1, 2), bool), 100.0, 0.1) == 0.0


def test_pck_over_many_thresholds_at_once() -> None:
    pred, gt = offsets([[5, 15]])
    d = normalised_distances(pred, gt, np.ones((1, 2), bool), 100.0)
    per_kpt, avg = pck_from_distances(d, np.array([0.01, 0.1, 0.2]))
    assert per_kpt.shape == (3, 2)
    assert avg.tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_epe_is_mean_pixel_distance() -> None:
    gt = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 0.0]], [[6.0, 8.0], [100.0, 0.0]]])
    mask = np.array([[True, True], [True, False]])
    assert epe(pred, gt, mask) == pytest.approx((5 + 0 + 10) / 3)


def test_auc_is_mmpose_pixel_curve() -> None:
    pred, gt = offsets([[15.0]])
    mask = np.ones((1, 1), bool)
    # thresholds 0, 1.5, ..., 28.5 px; 15 px is below 11 of them (16.5 .. 28.5) -> 9/20
    assert auc(pred, gt, mask) == pytest.approx(9 / 20)
    # a perfect prediction misses only the 0 px threshold (strict <): 19/20
    assert auc(gt, gt, mask) == pytest.approx(0.95)


def test_nme_with_box_and_pair_normalisers() -> None:
    gt = np.array([[[0.0, 0.0], [40.0, 0.0], [10.0, 10.0]]])
    pred = gt + np.array([[[4.0, 0.0], [0.0, 0.0], [0.0, 8.0]]])
    mask = np.ones((1, 3), bool)
    assert nme(pred, gt, mask, 100.0) == pytest.approx((0.04 + 0 + 0.08) / 3)
    inter = keypoint_pair_size(gt, 0, 1)
    assert inter.tolist() == [40.0]
    assert nme(pred, gt, mask, inter) == pytest.approx((0.1 + 0 + 0.2) / 3)
