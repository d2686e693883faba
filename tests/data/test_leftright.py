"""Left/right swap detection on synthetic stick figures, and the flip-check picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pose.data.leftright import flip_check_image, oriented_pairs, save_flip_check, suspect_swaps
from pose.data.meta import LEFT_COLOR, RIGHT_COLOR, DatasetMeta

NAMES = ["nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
# A person facing the camera: their left side is on the image's right.
FRONT = np.array([[50, 10], [65, 30], [35, 30], [60, 60], [40, 60], [61, 80], [39, 80], [60, 100], [40, 100]], np.float32)


@pytest.fixture
def meta() -> DatasetMeta:
    return DatasetMeta.from_dict({"name": "toy", "keypoints": NAMES})


def people(n: int, *, facing_away: np.ndarray | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` jittered, shifted and rotated figures; ``facing_away`` rows are mirrored (labels intact)."""
    rng = np.random.default_rng(seed)
    kp = np.repeat(FRONT[None], n, axis=0) + rng.normal(0, 1.0, (n, len(NAMES), 2)).astype(np.float32)
    if facing_away is not None:
        kp[facing_away, :, 0] = 100 - kp[facing_away, :, 0]
    theta = rng.uniform(-0.6, 0.6, n)
    rot = np.stack([np.stack([np.cos(theta), -np.sin(theta)], 1), np.stack([np.sin(theta), np.cos(theta)], 1)], 1)
    kp = np.einsum("nij,nkj->nki", rot, kp - 50) + rng.uniform(50, 400, (n, 1, 2))
    return kp.astype(np.float32), np.full((n, len(NAMES)), 2, np.uint8)


def swap(kp: np.ndarray, rows: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    out = kp.copy()
    for a, b in pairs:
        out[rows, a], out[rows, b] = kp[rows, b], kp[rows, a]
    return out


def test_oriented_pairs_put_left_first(meta: DatasetMeta) -> None:
    pairs = oriented_pairs(meta)
    assert len(pairs) == 4
    assert all(NAMES[a].startswith("left") and NAMES[b].startswith("right") for a, b in pairs)


def test_consistent_labels_are_not_flagged(meta: DatasetMeta) -> None:
    kp, vis = people(30)
    assert suspect_swaps(kp, vis, meta) == []


def test_people_facing_away_are_not_flagged(meta: DatasetMeta) -> None:
    kp, vis = people(30, facing_away=np.arange(30) % 3 == 0)
    assert suspect_swaps(kp, vis, meta) == []


def test_one_mirrored_instance_among_a_fixed_view_is_flagged(meta: DatasetMeta) -> None:
    kp, vis = people(30)
    bad = swap(kp, np.array([7]), [(1, 2), (3, 4), (5, 6), (7, 8)])
    found = suspect_swaps(bad, vis, meta)
    assert [(s.kind, s.rows) for s in found] == [("instance", (7,))]


def test_a_pair_swapped_in_most_instances_is_flagged(meta: DatasetMeta) -> None:
    kp, vis = people(20, facing_away=np.arange(20) % 2 == 0)
    bad = swap(kp, np.arange(15), [(5, 6)])
    found = suspect_swaps(bad, vis, meta)
    assert [s.kind for s in found] == ["pair"]
    assert found[0].pair == (5, 6)
    assert set(found[0].rows) == set(range(15))


def test_unlabelled_and_overlapping_pairs_do_not_vote(meta: DatasetMeta) -> None:
    kp, vis = people(20)
    kp[:, 6] = kp[:, 5]  # knees on top of each other: no side
    vis[:, 1] = 0  # left shoulder unlabelled
    assert suspect_swaps(kp, vis, meta) == []


def _colour_columns(img: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    mask = np.all(np.abs(img.astype(int) - np.array(rgb[::-1])) < 30, axis=2)
    return np.flatnonzero(mask.any(axis=0))


def test_flip_check_keeps_sides_with_a_correct_map_and_not_with_a_wrong_one(meta: DatasetMeta, tmp_path) -> None:
    kp, vis = people(1, seed=3)
    image = np.zeros((500, 500, 3), np.uint8)
    box = np.concatenate([kp[0].min(0) - 5, kp[0].max(0) + 5])
    pic = flip_check_image(image, kp[0], vis[0], box, meta, size=200)
    assert pic.shape[1] == 400
    left_tile, right_tile = pic[:200, :200], pic[:200, 200:]
    # green (left) is right of orange (right) in both tiles: a person facing the camera, flipped correctly
    for tile in (left_tile, right_tile):
        assert _colour_columns(tile, LEFT_COLOR).mean() > _colour_columns(tile, RIGHT_COLOR).mean()
    no_swap = DatasetMeta.from_dict({"name": "bad", "keypoints": [{"name": n, "swap": ""} for n in NAMES]})
    wrong = flip_check_image(image, kp[0], vis[0], box, no_swap, size=200)
    assert _colour_columns(wrong[:200, 200:], LEFT_COLOR).mean() < _colour_columns(wrong[:200, 200:], RIGHT_COLOR).mean()
    out = save_flip_check(tmp_path / "flip.png", meta, kp[0], vis[0], box, image_path=None, image_size=(500, 500))
    pic = flip_check_image(np.full((500, 500, 3), 96, np.uint8), kp[0], vis[0], box, meta)
    assert cv2.imread(str(out)).shape == pic.shape
