from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pose.data.coco import CocoData, build_coco, load_coco
from pose.data.dataset import TopdownDataset
from pose.data.meta import DatasetMeta, load_meta
from pose.data.transforms import AugConfig, apply_affine, get_affine_matrix, input_to_image, invert_affine
from pose.errors import ConfigError, DataError

SIZE = (192, 256)
LEFT_WRIST, RIGHT_WRIST = 9, 10
NO_PHOTO = AugConfig(photometric_prob=0.0)


class RecordingCodec:
    """A trivial codec: per-keypoint weights from the visibility it is given, a blank heatmap."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        self.seen.append(visibility.copy())
        n, k = visibility.shape
        return {"heatmaps": np.zeros((n, k, 64, 48), np.float32), "keypoint_weights": (visibility > 0).astype(np.float32)}


@pytest.fixture(scope="module")
def meta() -> DatasetMeta:
    return load_meta("coco")


@pytest.fixture()
def tiny(tmp_path: Path) -> CocoData:
    """Two 200x160 images: a person with a red dot drawn at its left wrist, a crowd, a person
    without labels, and a person with one keypoint far outside its box."""
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    kp = np.zeros((4, 17, 2), np.float32)
    vis = np.zeros((4, 17), np.uint8)
    kp[0] = rng.uniform([50, 30], [130, 140], (17, 2))
    vis[0] = 2
    vis[0, 3] = 0  # left ear unlabelled
    kp[0, LEFT_WRIST] = (60, 90)
    kp[0, RIGHT_WRIST] = (125, 95)
    kp[1, :5], vis[1, :5] = rng.uniform(0, 50, (5, 2)), 2
    kp[3] = rng.uniform([60, 40], [120, 120], (17, 2))
    vis[3] = 2
    kp[3, 16] = (195, 155)  # right ankle far outside the box
    kp[vis == 0] = 0
    first = np.full((160, 200, 3), 90, np.uint8)
    cv2.circle(first, (60, 90), 5, (0, 0, 255), -1)  # BGR red at the left wrist
    cv2.imwrite(str(images / "a.png"), first)
    cv2.imwrite(str(images / "b.png"), np.full((160, 200, 3), 90, np.uint8))
    return build_coco(
        file_names=["a.png", "b.png"],
        widths=[200, 200],
        heights=[160, 160],
        ann_image_rows=[0, 0, 1, 1],
        keypoints=kp,
        visibility=vis,
        bboxes=np.array([[40, 20, 140, 150], [0, 0, 60, 60], [10, 10, 60, 90], [55, 35, 125, 125]], np.float32),
        iscrowd=np.array([False, True, False, False]),
        categories=[{"id": 1, "name": "person", "keypoints": meta_names()}],
        image_root=images,
    )


def meta_names() -> list[str]:
    return load_meta("coco").keypoint_names


@pytest.fixture(scope="module")
def minicoco(shared_data: Path) -> CocoData:
    root = shared_data / "coco_person_minicoco"
    return load_coco(root / "annotations/person_keypoints_train2017.json", image_root=root / "images/train2017", num_keypoints=17)


def original_row(data: CocoData, ann_id: int) -> int:
    return int(np.flatnonzero(data.ann_ids == ann_id)[0])


def to_image_space(sample: dict, flip_indices: np.ndarray) -> np.ndarray:
    back = apply_affine(sample["keypoints"].numpy().astype(np.float64), invert_affine(sample["matrix"].numpy()))
    return back[flip_indices] if sample["flipped"] else back


# ----------------------------------------------------------------------------- real data
def test_real_sample_shapes_and_dtypes(minicoco: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(minicoco, meta, input_size=SIZE, train=True, codec=RecordingCodec())
    s = ds[0]
    assert s["image"].shape == (3, 256, 192) and s["image"].dtype == torch.uint8
    assert s["keypoints"].shape == (17, 2) and s["keypoints"].dtype == torch.float32
    assert s["visibility"].dtype == torch.uint8 and s["inside"].dtype == torch.bool
    assert s["matrix"].shape == (2, 3) and s["matrix"].dtype == torch.float64
    assert s["targets"]["heatmaps"].shape == (17, 64, 48)
    assert s["targets"]["keypoint_weights"].shape == (17,)
    assert s["bbox_score"] == 1.0 and s["ann_id"] in set(minicoco.ann_ids.tolist())
    assert s["image_id"] == int(minicoco.ann_image_ids[original_row(minicoco, s["ann_id"])])
    np.testing.assert_array_equal(s["flip_indices"].numpy(), meta.flip_indices)


def test_training_skips_crowd_and_unlabelled_and_counts_them(minicoco: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(minicoco, meta, train=True)
    crowd = minicoco.iscrowd
    empty = ~crowd & (minicoco.num_labelled == 0)
    assert crowd.sum() >= 1 and empty.sum() >= 1
    assert ds.counts["crowd"] == crowd.sum() and ds.counts["no_keypoints"] == empty.sum()
    assert len(ds) == ds.counts["used"] == len(minicoco) - crowd.sum() - empty.sum()
    assert not np.isin(ds.ann_ids, minicoco.ann_ids[crowd | empty]).any()
    assert len(TopdownDataset(minicoco, meta, train=False)) == len(ds)
    assert len(TopdownDataset(minicoco, meta, train=False, keep_empty=True)) == len(ds) + empty.sum()


def test_real_round_trip_under_augmentation(minicoco: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(minicoco, meta, train=True)
    rng = np.random.default_rng(0)
    flips = 0
    for i in range(len(ds)):
        s = ds.get(i, rng)
        r = original_row(minicoco, s["ann_id"])
        lab = minicoco.visibility[r] > 0
        assert np.abs(to_image_space(s, meta.flip_indices) - minicoco.keypoints[r])[lab].max() < 1e-3
        flips += s["flipped"]
    assert 0 < flips < len(ds)


def test_eval_crops_map_back_with_center_scale_rotation(minicoco: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(minicoco, meta, train=False)
    batch = [ds[i] for i in range(6)]
    pts = torch.stack([s["keypoints"] for s in batch])
    back = input_to_image(pts, torch.stack([s["center"] for s in batch]), torch.stack([s["scale"] for s in batch]), torch.zeros(6), SIZE)
    for s, b in zip(batch, back.numpy()):
        assert not s["flipped"] and s["rotation"] == 0.0
        r = original_row(minicoco, s["ann_id"])
        lab = minicoco.visibility[r] > 0
        assert np.abs(b - minicoco.keypoints[r])[lab].max() < 1e-3


def test_dataloader_with_two_workers_is_reproducible(minicoco: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(minicoco, meta, train=True, codec=RecordingCodec())

    def first_batch() -> dict:
        torch.manual_seed(0)
        return next(iter(DataLoader(ds, batch_size=8, num_workers=2, shuffle=True)))

    a, b = first_batch(), first_batch()
    assert a["image"].shape == (8, 3, 256, 192) and a["image"].dtype == torch.uint8
    assert a["targets"]["heatmaps"].shape == (8, 17, 64, 48)
    torch.testing.assert_close(a["ann_id"], b["ann_id"])
    torch.testing.assert_close(a["image"], b["image"])
    torch.testing.assert_close(a["keypoints"], b["keypoints"])


# ----------------------------------------------------------------------------- tiny fixtures
def test_fixed_seed_is_deterministic_and_seeds_differ(tiny: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(tiny, meta, train=True)

    def run(seed: int) -> list[dict]:
        torch.manual_seed(seed)
        return [ds[i] for i in range(len(ds)) for _ in range(3)]

    a, b, c = run(0), run(0), run(1)
    for x, y in zip(a, b):
        torch.testing.assert_close(x["image"], y["image"])
        torch.testing.assert_close(x["matrix"], y["matrix"])
    assert any(not torch.equal(x["matrix"], z["matrix"]) for x, z in zip(a, c))
    s1, s2 = ds.get(0, np.random.default_rng(5)), ds.get(0, np.random.default_rng(5))
    torch.testing.assert_close(s1["image"], s2["image"])


def test_flip_swaps_left_and_right_with_the_pixels(tiny: CocoData, meta: DatasetMeta) -> None:
    plain = TopdownDataset(tiny, meta, train=True, aug=AugConfig.off()).get(0)
    flipped = TopdownDataset(tiny, meta, train=True, aug=replace(AugConfig.off(), flip_prob=1.0)).get(0, np.random.default_rng(0))
    assert flipped["flipped"] and not plain["flipped"]
    p, f = plain["keypoints"].numpy(), flipped["keypoints"].numpy()
    fi = meta.flip_indices
    lab = plain["visibility"].numpy()[fi] > 0
    # about the crop centre W / 2 (MMPose's centre convention): x_flipped[k] = W - x_plain[partner(k)]
    np.testing.assert_allclose(f[lab, 0], SIZE[0] - p[fi][lab, 0], atol=1e-3)
    np.testing.assert_allclose(f[lab, 1], p[fi][lab, 1], atol=1e-3)
    # in image space the flipped left wrist is the mirror (w - 1 - x) of the original right wrist
    inv = apply_affine(flipped["keypoints"].numpy()[None].astype(np.float64), invert_affine(compose_plain(flipped, meta)))[0]
    np.testing.assert_allclose(inv[LEFT_WRIST], [200 - 1 - tiny.keypoints[0, RIGHT_WRIST, 0], tiny.keypoints[0, RIGHT_WRIST, 1]], atol=1e-3)
    for s, k in ((plain, LEFT_WRIST), (flipped, RIGHT_WRIST)):
        x, y = np.round(s["keypoints"][k].numpy()).astype(int)
        r, g, b = s["image"][:, y, x].tolist()
        assert r > 180 and g < 80 and b < 80, f"red dot not under keypoint {k} (flipped={s['flipped']})"


def compose_plain(sample: dict, meta: DatasetMeta) -> np.ndarray:
    """The crop matrix of a flipped sample in the flipped image (no flip folded in)."""
    return get_affine_matrix(sample["center"].numpy(), sample["scale"].numpy(), sample["rotation"], SIZE)


def test_labels_follow_pixels_under_random_augmentation(tiny: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(tiny, meta, train=True, aug=NO_PHOTO)
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(40):
        s = ds.get(0, rng)
        k = RIGHT_WRIST if s["flipped"] else LEFT_WRIST
        if not s["inside"][k]:
            continue
        x, y = np.clip(np.round(s["keypoints"][k].numpy()).astype(int), 0, [SIZE[0] - 1, SIZE[1] - 1])
        r, g, b = s["image"][:, y, x].tolist()
        assert r > 150 and g < 110 and b < 110
        checked += 1
    assert checked >= 20


def test_unlabelled_stay_zero_and_outside_keep_visibility_but_get_no_weight(tiny: CocoData, meta: DatasetMeta) -> None:
    codec = RecordingCodec()
    ds = TopdownDataset(tiny, meta, train=True, codec=codec)
    rng = np.random.default_rng(2)
    saw_outside = False
    for _ in range(20):
        for i in range(len(ds)):
            s = ds.get(i, rng)
            vis, inside = s["visibility"].numpy(), s["inside"].numpy()
            unl = vis == 0
            assert unl.sum() == (tiny.visibility[original_row(tiny, s["ann_id"])] == 0).sum()
            assert np.all(s["keypoints"].numpy()[unl] == 0)
            assert not inside[unl].any()
            outside = (vis > 0) & ~inside
            saw_outside |= bool(outside.any())
            np.testing.assert_array_equal(codec.seen[-1][0], vis * inside)
            np.testing.assert_array_equal(s["targets"]["keypoint_weights"].numpy(), (vis * inside > 0).astype(np.float32))
    assert saw_outside


def test_eval_with_detection_boxes(tiny: CocoData, meta: DatasetMeta, tmp_path: Path) -> None:
    dets = [
        {"image_id": 1, "bbox": [40, 20, 100, 130], "score": 0.9, "category_id": 1},
        {"image_id": 2, "bbox": [10, 10, 50, 80], "score": 0.2},
        {"image_id": 2, "bbox": [12, 10, 50, 80], "score": 0.05},
    ]
    ds = TopdownDataset(tiny, meta, train=False, boxes=dets, box_score_thr=0.1)
    assert len(ds) == 2 and ds.counts["below_threshold"] == 1
    s = ds[1]
    assert s["ann_id"] == -1 and s["image_id"] == 2 and s["bbox_score"] == pytest.approx(0.2)
    np.testing.assert_allclose(s["bbox"].numpy(), [10, 10, 60, 90])
    assert s["visibility"].sum() == 0 and not s["flipped"]
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    assert len(TopdownDataset(tiny, meta, train=False, boxes=path)) == 3


@pytest.mark.parametrize(
    ("bad", "entry"),
    [
        ({"image_id": 99, "bbox": [0, 0, 5, 5], "score": 1}, "[1].image_id"),
        ({"image_id": 1, "bbox": [0, 0, 0, 5], "score": 1}, "[1].bbox"),
        ({"image_id": 1, "bbox": [0, 0, 5, 5], "score": "high"}, "[1].score"),
    ],
)
def test_bad_detection_entries_are_named(tiny: CocoData, meta: DatasetMeta, tmp_path: Path, bad: dict, entry: str) -> None:
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([{"image_id": 1, "bbox": [1, 1, 5, 5], "score": 1}, bad]))
    with pytest.raises(DataError) as err:
        TopdownDataset(tiny, meta, train=False, boxes=path)
    assert str(err.value).startswith(f"{path}: {entry}:")


def test_constructor_rejects_inconsistent_arguments(tiny: CocoData, meta: DatasetMeta) -> None:
    with pytest.raises(ConfigError, match="boxes"):
        TopdownDataset(tiny, meta, train=True, boxes=[])
    with pytest.raises(ConfigError, match="aug"):
        TopdownDataset(tiny, meta, train=False, aug=AugConfig())
    small = DatasetMeta.from_dict({"name": "four", "keypoints": ["a", "b", "c", "d"]})
    with pytest.raises(DataError, match="17 keypoints"):
        TopdownDataset(tiny, small, train=True)


def test_bad_codec_output_is_a_clear_error(tiny: CocoData, meta: DatasetMeta) -> None:
    class Flat:
        def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
            return {"heatmaps": np.zeros((17, 64, 48), np.float32)}

    with pytest.raises(ValueError, match="leading instance axis"):
        TopdownDataset(tiny, meta, train=False, codec=Flat())[0]


def test_missing_image_names_file_and_image_id(tiny: CocoData, meta: DatasetMeta) -> None:
    ds = TopdownDataset(tiny, meta, train=False)
    (tiny.image_root / "b.png").unlink()
    with pytest.raises(DataError, match=r"b\.png: images\[id=2\]: image file not found"):
        ds[1]
