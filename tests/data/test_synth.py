"""The embedded dataset generator: layout, determinism, label semantics, and that it is not trivial."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pose.data.coco import CocoData
from pose.data.image import read_image_size
from pose.data.layout import load_dataset
from pose.data.meta import DatasetMeta
from pose.data.synth import MIN_AREA, MIN_LABELLED, generate, label_figures, val_rows
from pose.data.synth_figures import Camera, human, quadruped, render_figure
from pose.errors import ConfigError

KINDS = {"human": "coco", "quadruped": "ap10k"}


@pytest.fixture(scope="module", params=sorted(KINDS))
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict]:
    """A small dataset per kind, shared by the label tests."""
    out = tmp_path_factory.mktemp(request.param) / "ds"
    summary = generate(out, kind=request.param, images=60, seed=3, progress=False)
    return request.param, out, summary


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------ layout and determinism
def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", images=6, seed=11, progress=False)
    generate(tmp_path / "b", images=6, seed=11, progress=False)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert len([n for n in a if n.endswith(".jpg")]) == 6
    assert a == b


def test_other_seed_and_larger_runs(tmp_path: Path) -> None:
    generate(tmp_path / "a", images=3, seed=1, progress=False)
    generate(tmp_path / "b", images=5, seed=1, progress=False)
    generate(tmp_path / "c", images=3, seed=2, progress=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    for name in ("images/000000.jpg", "images/000002.jpg"):
        assert a[name] == b[name], "an image must depend on (seed, index) only, not on the image count"
        assert a[name] != c[name]
    assert a["annotations/train.json"] != c["annotations/train.json"]


def test_layout_loads_with_the_preset_meta(dataset: tuple[str, Path, dict]) -> None:
    kind, out, summary = dataset
    train, meta = load_dataset(out, split="train")
    val, _ = load_dataset(out, split="val")
    assert meta.name == KINDS[kind] and meta.num_keypoints == 17
    assert train.categories[0]["keypoints"] == meta.keypoint_names
    assert set(train.image_ids.tolist()).isdisjoint(val.image_ids.tolist())
    assert sorted(train.image_ids.tolist() + val.image_ids.tolist()) == list(range(1, 61))
    assert len(val.image_ids) == 12 and summary["images"] == {"train": 48, "val": 12}
    assert summary["instances"] == {"train": len(train), "val": len(val)}
    assert len(np.unique(np.concatenate([train.ann_ids, val.ann_ids]))) == len(train) + len(val)
    for data in (train, val):
        for r in range(len(data.image_ids)):
            assert read_image_size(data.image_path(r)) == (data.widths[r], data.heights[r])
    assert set(train.widths.tolist()) | set(train.heights.tolist()) >= {320}
    assert train.widths.min() >= 240 and train.heights.min() >= 240


def test_val_rows_split_every_image_once() -> None:
    val = val_rows(10, 0.2, seed=0)
    assert len(val) == 2 and len(np.unique(val)) == 2 and val.max() < 10
    assert len(val_rows(2, 0.01, seed=0)) == 1
    assert len(val_rows(3, 0.99, seed=0)) == 2
    assert not np.array_equal(val_rows(50, 0.2, seed=0), val_rows(50, 0.2, seed=1))


# ------------------------------------------------------------------------ label semantics
def test_labels_follow_coco_semantics(dataset: tuple[str, Path, dict]) -> None:
    _, out, _ = dataset
    data, _ = load_dataset(out, split="train")
    rows = np.searchsorted(data.image_ids, data.ann_image_ids)
    w, h = data.widths[rows], data.heights[rows]
    box = data.bboxes
    assert (box[:, 0] >= 0).all() and (box[:, 1] >= 0).all() and (box[:, 2] <= w).all() and (box[:, 3] <= h).all()
    assert ((box[:, 2:] - box[:, :2]) > 0).all()
    box_area = np.prod(box[:, 2:] - box[:, :2], axis=1)
    assert (data.areas >= MIN_AREA).all() and (data.areas <= box_area + 1e-3).all()
    assert not data.iscrowd.any()
    n_lab = data.num_labelled
    assert ((n_lab == 0) | (n_lab >= MIN_LABELLED)).all()
    unl = data.visibility == 0
    assert (data.keypoints[unl] == 0).all()
    lab = ~unl
    kx, ky = data.keypoints[..., 0], data.keypoints[..., 1]
    assert (kx[lab] >= 0).all() and (ky[lab] >= 0).all()
    assert (kx[lab] < np.broadcast_to(w[:, None], kx.shape)[lab]).all()
    assert (ky[lab] < np.broadcast_to(h[:, None], ky.shape)[lab]).all()
    pad = 0.1 * (box[:, 2:] - box[:, :2])[:, None, :]
    inside = ((data.keypoints >= box[:, None, :2] - pad) & (data.keypoints <= box[:, None, 2:] + pad)).all(axis=2)
    assert inside[lab].mean() > 0.9, "keypoints should mostly lie in their boxes"


def test_data_has_occlusion_truncation_and_crowds(dataset: tuple[str, Path, dict]) -> None:
    _, out, summary = dataset
    data, _ = load_dataset(out, split="train")
    vis = data.visibility
    assert 0.05 < (vis == 1).mean() < 0.5, "some keypoints must be occluded (v=1), most visible"
    assert 0.01 < (vis == 0).mean() < 0.4, "some keypoints must be truncated (v=0)"
    assert (vis == 2).mean() > 0.4
    per_image = len(data) / len(data.image_ids)
    assert 1.8 < per_image <= 4
    assert summary["pose_instances"]["train"] >= 0.9 * len(data)
    sizes = np.max(data.bboxes[:, 2:] - data.bboxes[:, :2], axis=1)
    assert sizes.min() < 60 and sizes.max() > 180, "figures should span small to large"


def _mean_pose_results(train: CocoData, val: CocoData) -> list[dict]:
    """The mean box-normalised training pose placed in every val box with keypoints."""
    wh = train.bboxes[:, 2:] - train.bboxes[:, :2]
    rel = (train.keypoints - train.bboxes[:, None, :2]) / wh[:, None, :]
    mean = np.nanmean(np.where(train.visibility[..., None] > 0, rel, np.nan), axis=0)
    rows = np.flatnonzero(val.num_labelled > 0)
    vwh = val.bboxes[rows, 2:] - val.bboxes[rows, :2]
    kps = val.bboxes[rows, None, :2] + mean[None] * vwh[:, None, :]
    return [_result(int(val.ann_image_ids[r]), kp) for r, kp in zip(rows, kps)]


def _result(image_id: int, kp: np.ndarray) -> dict:
    flat = np.concatenate([kp, np.ones((len(kp), 1))], axis=1).ravel()
    return {"image_id": image_id, "category_id": 1, "keypoints": [float(v) for v in flat], "score": 1.0}


def _coco_ap(val_json: Path, results: list[dict], meta: DatasetMeta) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(val_json))
        ev = COCOeval(gt, gt.loadRes(results), iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(meta.sigmas, np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def test_mean_pose_in_the_box_scores_low_ap(dataset: tuple[str, Path, dict]) -> None:
    _, out, _ = dataset
    train, meta = load_dataset(out, split="train")
    val, _ = load_dataset(out, split="val")
    baseline = _coco_ap(out / "annotations" / "val.json", _mean_pose_results(train, val), meta)
    rows = np.flatnonzero(val.num_labelled > 0)
    oracle = _coco_ap(out / "annotations" / "val.json", [_result(int(val.ann_image_ids[r]), val.keypoints[r]) for r in rows], meta)
    assert oracle > 0.95, "the ground truth itself must score ~1 (the harness works)"
    assert baseline < 0.2, f"a mean pose scores AP {baseline:.3f}: the data is too easy"


# ------------------------------------------------------------------------ labelling and geometry
def test_label_figures_visibility_boxes_and_areas() -> None:
    owner = np.zeros((20, 30), np.int16)
    owner[2:12, 3:13] = 1
    owner[8:18, 10:25] = 2  # figure 2 is in front, covering part of figure 1
    kps = np.array(
        [[[5, 5], [11, 9], [-3, 4], [6, 6]], [[12, 10], [20, 15], [29.5, 19.5], [31, 5]]], np.float32
    )
    self_occ = np.zeros((2, 4), bool)
    self_occ[0, 3] = True
    scene = label_figures(np.zeros((20, 30, 3), np.uint8), owner, kps, self_occ)
    assert scene.visibility.tolist() == [[2, 1, 0, 1], [2, 2, 2, 0]]
    assert scene.keypoints[0, 2].tolist() == [0, 0] and scene.keypoints[1, 3].tolist() == [0, 0]
    assert scene.keypoints[0, 1].tolist() == [11, 9]
    assert scene.bboxes.tolist() == [[3, 2, 13, 12], [10, 8, 25, 18]]
    assert scene.areas.tolist() == [float((owner == 1).sum()), 150.0]


def test_label_figures_drops_tiny_and_clears_sparse_instances() -> None:
    owner = np.zeros((20, 30), np.int16)
    owner[0:10, 0:10] = 1
    owner[15:17, 20:22] = 2  # 4 px: below MIN_AREA
    kps = np.full((2, 4, 2), 5.0, np.float32)
    kps[0, 2:] = -1  # only 2 labelled keypoints left
    scene = label_figures(np.zeros((20, 30, 3), np.uint8), owner, kps, np.zeros((2, 4), bool))
    assert len(scene.areas) == 1
    assert scene.visibility.tolist() == [[0, 0, 0, 0]] and scene.areas[0] == 100


def _render(builder, yaw: float, seed: int):
    rng = np.random.default_rng(seed)
    image = np.zeros((200, 200, 3), np.uint8)
    cam = Camera(yaw=yaw, elevation=0.0, roll=0.0, size=150.0, centre=np.array([100.0, 100.0]))
    return render_figure(image, builder(rng), cam), image


@pytest.mark.parametrize("seed", range(8))
def test_left_is_the_figure_own_left(seed: int) -> None:
    """Facing the camera a person's left shoulder and hip are on the image right; from behind, left."""
    front, image = _render(human, 0.0, seed)
    back, _ = _render(human, np.pi, seed)
    assert front.keypoints[5, 0] > front.keypoints[6, 0] and front.keypoints[11, 0] > front.keypoints[12, 0]
    assert back.keypoints[5, 0] < back.keypoints[6, 0] and back.keypoints[11, 0] < back.keypoints[12, 0]
    assert back.self_occluded[[0, 1, 2]].all(), "the face of a figure seen from behind is hidden"
    assert front.mask.sum() > 1000 and image.any()


def test_far_side_is_self_occluded_in_profile() -> None:
    """Facing image right, a person shows their right side: the left ear is hidden, the right usually not."""
    right_seen = nose_ahead = 0
    for seed in range(12):
        drawn, _ = _render(human, np.pi / 2, seed)
        assert drawn.self_occluded[3], "far (left) ear must be hidden"
        right_seen += not drawn.self_occluded[4]
        nose_ahead += drawn.keypoints[0, 0] > drawn.keypoints[3:5, 0].mean()
    assert right_seen >= 9
    assert nose_ahead >= 10, "the nose points where the figure faces (unless bowing to the floor)"


def test_quadruped_faces_where_its_nose_points() -> None:
    for seed in range(6):
        drawn, _ = _render(quadruped, np.pi / 2, seed)
        kp = drawn.keypoints
        assert kp[2, 0] > kp[4, 0], "facing image right: nose right of the tail root"
        assert kp[7, 1] > kp[5, 1] and kp[13, 1] > kp[11, 1], "paws below shoulders and hips"
        front, _ = _render(quadruped, 0.0, seed)
        assert front.keypoints[5, 0] > front.keypoints[8, 0] and front.keypoints[0, 0] > front.keypoints[1, 0], "AP-10K L_ is the animal's left"


# ------------------------------------------------------------------------ errors
def test_bad_arguments_raise_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kind"):
        generate(tmp_path / "x", kind="fish", images=4, progress=False)
    with pytest.raises(ConfigError, match="at least 2 images"):
        generate(tmp_path / "x", images=1, progress=False)
    with pytest.raises(ConfigError, match="val_fraction"):
        generate(tmp_path / "x", images=4, val_fraction=1.0, progress=False)
    assert not (tmp_path / "x").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.txt").write_text("precious")
    with pytest.raises(ConfigError, match="not a dataset folder"):
        generate(home, images=2, progress=False)
    assert (home / "thesis.txt").read_text() == "precious"
    ds = tmp_path / "ds"
    generate(ds, images=2, seed=0, progress=False)
    generate(ds, images=3, seed=0, progress=False)
    assert len(list((ds / "images").glob("*.jpg"))) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp folders left behind"
