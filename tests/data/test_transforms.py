from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from pose.data.meta import load_meta
from pose.data.transforms import (
    AugConfig,
    apply_affine,
    bbox_xyxy_to_cs,
    compose_hflip,
    fix_aspect_ratio,
    flip_keypoints,
    get_affine_matrix,
    half_body_box,
    input_to_image,
    invert_affine,
    photometric,
    random_bbox_transform,
    truncnorm,
    warp,
)
from pose.errors import ConfigError

SIZE = (192, 256)


def mmpose_warp_matrix(center, scale, rot, output_size):
    """MMPose's 3-point ``get_warp_matrix`` (non-UDP), written out as the reference."""

    def rotate(pt, rad):
        sn, cs = np.sin(rad), np.cos(rad)
        return np.array([pt[0] * cs - pt[1] * sn, pt[0] * sn + pt[1] * cs])

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]])

    src_w, (dst_w, dst_h) = scale[0], output_size
    rad = np.deg2rad(rot)
    src_dir = rotate(np.array([0.0, src_w * -0.5]), rad)
    dst_dir = np.array([0.0, dst_w * -0.5])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0], src[1] = center, center + src_dir
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + dst_dir
    src[2], dst[2] = third(src[0], src[1]), third(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


def random_crops(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center = rng.uniform(0, 640, (n, 2))
    scale = fix_aspect_ratio(rng.uniform(20, 600, (n, 2)), SIZE[0] / SIZE[1])
    rotation = rng.uniform(-180, 180, n)
    return center, scale, rotation


def test_bbox_to_center_scale_pads_and_fixes_aspect_ratio() -> None:
    center, scale = bbox_xyxy_to_cs(np.array([[10, 20, 110, 220], [0, 0, 300, 100]], np.float32))
    np.testing.assert_allclose(center, [[60, 120], [150, 50]])
    np.testing.assert_allclose(scale, [[125, 250], [375, 125]])
    fixed = fix_aspect_ratio(scale, 0.75)
    np.testing.assert_allclose(fixed, [[187.5, 250], [375, 500]])
    np.testing.assert_allclose(fixed[:, 0] / fixed[:, 1], 0.75)


def test_affine_matrix_matches_mmpose_construction() -> None:
    center, scale, rotation = random_crops(np.random.default_rng(0), 20)
    batch = get_affine_matrix(center, scale, rotation, SIZE)
    assert batch.shape == (20, 2, 3)
    for c, s, r, m in zip(center, scale, rotation, batch):
        np.testing.assert_allclose(m, mmpose_warp_matrix(c, s, r, SIZE), rtol=1e-4, atol=1e-3)


def test_affine_maps_center_to_input_center_and_scale_width_to_input_width() -> None:
    m = get_affine_matrix(np.array([100.0, 50.0]), np.array([96.0, 128.0]), 0.0, SIZE)
    pts = apply_affine(np.array([[100.0, 50.0], [148.0, 114.0]]), m)
    np.testing.assert_allclose(pts, [[96, 128], [192, 256]], atol=1e-9)


def test_round_trip_numpy_and_torch_below_1e_3_px() -> None:
    rng = np.random.default_rng(1)
    center, scale, rotation = random_crops(rng, 64)
    widths = rng.integers(100, 1000, 64)
    m = get_affine_matrix(center, scale, rotation, SIZE)
    flip = rng.random(64) < 0.5
    m[flip] = compose_hflip(m[flip], widths[flip])
    pts = rng.uniform(-50, 1000, (64, 17, 2)).astype(np.float32)
    back = apply_affine(apply_affine(pts, m), invert_affine(m))
    assert back.dtype == np.float32
    assert np.abs(back - pts).max() < 1e-3
    tp, tm = torch.from_numpy(pts), torch.from_numpy(m)
    tback = apply_affine(apply_affine(tp, tm), invert_affine(tm))
    assert tback.dtype == torch.float32
    assert (tback - tp).abs().max().item() < 1e-3


def test_input_to_image_inverts_the_crop_in_numpy_and_torch() -> None:
    rng = np.random.default_rng(2)
    center, scale, rotation = random_crops(rng, 32)
    pts = rng.uniform(0, 800, (32, 17, 2))
    inp = apply_affine(pts, get_affine_matrix(center, scale, rotation, SIZE))
    back = input_to_image(inp, center, scale, rotation, SIZE)
    assert np.abs(back - pts).max() < 1e-3
    tback = input_to_image(torch.from_numpy(inp).float(), torch.from_numpy(center), torch.from_numpy(scale), torch.from_numpy(rotation), SIZE)
    assert tback.dtype == torch.float32
    assert (tback.double() - torch.from_numpy(pts)).abs().max().item() < 1e-3


def test_folded_flip_equals_warping_the_flipped_image() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    w = img.shape[1]
    center, scale, rot = np.array([70.0, 60.0]), np.array([90.0, 120.0]), 17.0
    flipped_center = np.array([w - 1 - center[0], center[1]])
    m = get_affine_matrix(flipped_center, scale, rot, SIZE)
    expected = warp(cv2.flip(img, 1), m, SIZE)
    got = warp(img, compose_hflip(m, w), SIZE)
    assert got.shape == (SIZE[1], SIZE[0], 3)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_flip_keypoints_mirrors_x_and_swaps_sides() -> None:
    meta = load_meta("coco")
    kp = np.zeros((17, 2), np.float32)
    vis = np.zeros(17, np.uint8)
    kp[5], vis[5] = (10, 20), 2  # left_shoulder
    kp[0], vis[0] = (30, 40), 1  # nose
    out, ov = flip_keypoints(kp, vis, 100, meta.flip_indices)
    np.testing.assert_allclose(out[6], [89, 20])  # now right_shoulder at w - 1 - x
    np.testing.assert_allclose(out[0], [69, 40])
    assert ov[6] == 2 and ov[5] == 0 and ov[0] == 1
    assert np.all(out[ov == 0] == 0)
    again, av = flip_keypoints(out, ov, 100, meta.flip_indices)
    np.testing.assert_allclose(again, kp)
    np.testing.assert_array_equal(av, vis)


def test_truncnorm_stays_in_unit_interval() -> None:
    x = truncnorm(np.random.default_rng(0), 10000)
    assert np.abs(x).max() <= 1 and x.std() > 0.4


def test_half_body_picks_upper_or_lower_box() -> None:
    meta = load_meta("coco")
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 200, (17, 2)).astype(np.float32)
    vis = np.full(17, 2, np.uint8)
    cfg = AugConfig(half_body_prob=1.0)
    seen = set()
    for _ in range(20):
        center, scale = half_body_box(kp, vis, meta.upper_ids, meta.lower_ids, cfg, 0.75, rng)
        ids = meta.upper_ids if np.allclose(center, kp[meta.upper_ids].mean(0)) else meta.lower_ids
        assert np.allclose(center, kp[ids].mean(0), atol=1e-4)
        span = kp[ids].max(0) - kp[ids].min(0)
        assert np.all(scale >= span * 1.5 - 1e-3)
        assert scale[0] / scale[1] == pytest.approx(0.75)
        seen.add(len(ids))
    assert seen == {len(meta.upper_ids), len(meta.lower_ids)}
    upper_only = vis.copy()
    upper_only[meta.lower_ids[1:]] = 0  # 11 upper + 1 lower labelled: too few lower keypoints
    for _ in range(5):
        center, _ = half_body_box(kp, upper_only, meta.upper_ids, meta.lower_ids, cfg, 0.75, rng)
        np.testing.assert_allclose(center, kp[meta.upper_ids].mean(0), atol=1e-4)
    few = vis.copy()
    few[8:] = 0  # 8 labelled < half_body_min_keypoints (9)
    assert half_body_box(kp, few, meta.upper_ids, meta.lower_ids, cfg, 0.75, rng) is None
    assert half_body_box(kp, vis, meta.upper_ids, meta.lower_ids, AugConfig(half_body_prob=0.0), 0.75, rng) is None


def test_random_bbox_transform_ranges_and_off() -> None:
    rng = np.random.default_rng(0)
    center, scale = np.array([100, 100], np.float32), np.array([60, 80], np.float32)
    c, s, r = random_bbox_transform(center, scale, AugConfig.off(), rng)
    np.testing.assert_array_equal(c, center)
    np.testing.assert_array_equal(s, scale)
    assert r == 0.0
    cfg = AugConfig()
    draws = [random_bbox_transform(center, scale, cfg, rng) for _ in range(500)]
    factors = np.array([d[1][0] / scale[0] for d in draws])
    rots = np.array([d[2] for d in draws])
    shifts = np.array([(d[0] - center) / d[1] * f for d, f in zip(draws, factors)])
    assert factors.min() >= 0.75 - 1e-6 and factors.max() <= 1.25 + 1e-6
    assert np.abs(rots).max() <= 80 and 0.45 < np.mean(rots != 0) < 0.75
    assert np.abs(shifts).max() <= 0.16 + 1e-6 and 0.2 < np.mean(np.any(shifts != 0, axis=1)) < 0.4


def test_photometric_keeps_shape_and_changes_pixels() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 24, 3), dtype=np.uint8)
    assert photometric(img, AugConfig.off(), rng) is img
    out = photometric(img, AugConfig(photometric_prob=1.0), rng)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() > 1


@pytest.mark.parametrize("bad", [dict(flip_prob=1.5), dict(scale_range=(1.2, 0.8)), dict(rotate_factor=-1.0)])
def test_aug_config_rejects_nonsense(bad: dict) -> None:
    with pytest.raises(ConfigError, match="aug\\."):
        AugConfig(**bad)


def test_udp_maps_box_width_onto_first_to_last_pixel_and_inverts() -> None:
    m = get_affine_matrix(np.array([100.0, 50.0]), np.array([96.0, 128.0]), 0.0, SIZE, udp=True)
    pts = apply_affine(np.array([[100.0, 50.0], [52.0, -14.0], [148.0, 114.0]]), m)
    np.testing.assert_allclose(pts[0], [95.5, 127.5], atol=1e-9)
    np.testing.assert_allclose(pts[1, 0], 0, atol=1e-9)
    np.testing.assert_allclose(pts[2, 0], 191, atol=1e-9)
    rng = np.random.default_rng(4)
    center, scale, rotation = random_crops(rng, 16)
    p = rng.uniform(0, 600, (16, 17, 2))
    inp = apply_affine(p, get_affine_matrix(center, scale, rotation, SIZE, udp=True))
    assert np.abs(input_to_image(inp, center, scale, rotation, SIZE, udp=True) - p).max() < 1e-3
    assert np.abs(input_to_image(inp, center, scale, rotation, SIZE) - p).max() > 0.1
