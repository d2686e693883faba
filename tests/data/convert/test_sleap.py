"""SLEAP .slp / .pkg.slp -> canonical dataset: agreement with the reference conversions, errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from pose.data.coco import load_coco
from pose.data.convert import run_convert
from pose.data.convert.report import ConversionReport
from pose.data.convert.sleap import convert, read_slp, subset_slp
from pose.data.layout import load_dataset
from pose.errors import DataError


def _convert(src: Path, out: Path) -> ConversionReport:
    return run_convert("sleap", src, out)


def _assert_matches_reference(out: Path, ref_json: Path, ref_root: Path) -> None:
    """Same instances per image (in order), visibility, coordinates within 1e-3 px, boxes and image sizes."""
    got, meta = load_dataset(out)
    ref = load_coco(ref_json, image_root=ref_root)
    assert meta.keypoint_names == ref.categories[0]["keypoints"]
    assert got.categories[0]["skeleton"] == ref.categories[0]["skeleton"]
    assert len(got.image_ids) == len(ref.image_ids)
    assert len(got) == len(ref)
    np.testing.assert_array_equal(got.widths, ref.widths)
    np.testing.assert_array_equal(got.heights, ref.heights)
    np.testing.assert_array_equal(got.ann_image_ids, ref.ann_image_ids)
    np.testing.assert_array_equal(got.visibility, ref.visibility)
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=1e-3)
    np.testing.assert_allclose(got.bboxes, ref.bboxes, atol=1e-2)


def test_pkg_slp_embedded_frame_matches_reference(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "sleap_pkg_minimal"
    report = _convert(root / "original" / "minimal_instance.pkg.slp", tmp_path / "out")
    _assert_matches_reference(tmp_path / "out", root / "coco" / "annotations.json", root)
    data, _ = load_dataset(tmp_path / "out")
    written = data.image_path(0).read_bytes()
    assert written == (root / "images" / "video0_frame_000000.png").read_bytes()
    assert (report.images, report.instances, report.keypoints) == (1, 2, 2)
    saved = json.loads((tmp_path / "out" / "conversion_report.json").read_text())
    assert saved["instances"] == 2


def test_dance_video_frames_decoded_and_predictions_dropped(shared_data: Path, tmp_path: Path) -> None:
    s = shared_data / "sleap_samples"
    report = _convert(s / "slp_hdf5" / "dance.mp4.labels.slp", tmp_path / "out")
    _assert_matches_reference(tmp_path / "out", s / "coco" / "dance_user.json", s)
    assert sum(d["reason"].startswith("predicted") for d in report.dropped) == 450
    assert any("dance.mp4" in w for w in report.warnings)
    data, meta = load_dataset(tmp_path / "out")
    ref = load_coco(s / "coco" / "dance_user.json", image_root=s)
    for row in range(len(data.image_ids)):
        mine = np.asarray(Image.open(data.image_path(row)))
        theirs = np.asarray(Image.open(ref.image_path(row)))
        np.testing.assert_array_equal(mine, theirs)
    assert meta.swap[meta.keypoint_names.index("left_eye")] == "right_eye"


def test_single_image_videos_matches_reference(shared_data: Path, tmp_path: Path) -> None:
    s = shared_data / "sleap_samples"
    for src in (s / "siv_format_v1" / "small_robot_siv.slp", s / "siv_format_v2" / "small_robot_siv_caching.slp"):
        out = tmp_path / src.stem
        _convert(src, out)
        _assert_matches_reference(out, s / "coco" / "small_robot_siv.json", s)
        data, _ = load_dataset(out)
        assert data.image_path(0).read_bytes() == (s / "videos" / "robot0.jpg").read_bytes()


@pytest.mark.slow  # 20 seeks into a 1024x1024 video: ~3 s idle, more on a busy machine
def test_clip_flies_every_75th_frame_matches_reference(shared_data: Path, tmp_path: Path) -> None:
    s = shared_data / "sleap_samples"
    (tmp_path / "clip.mp4").symlink_to(s / "tracks" / "clip.mp4")
    subset_slp(s / "tracks" / "clip.slp", tmp_path / "clip.slp", 75)
    report = _convert(tmp_path / "clip.slp", tmp_path / "out")
    _assert_matches_reference(tmp_path / "out", s / "coco" / "clip_flies.json", s)
    assert (report.images, report.instances) == (20, 40)
    data, _ = load_dataset(tmp_path / "out")
    ref = load_coco(s / "coco" / "clip_flies.json", image_root=s)
    np.testing.assert_array_equal(np.asarray(Image.open(data.image_path(3))), np.asarray(Image.open(ref.image_path(3))))


def _write_slp(
    path: Path,
    points: np.ndarray,
    *,
    instance_types: tuple[int, ...] = (0,),
    video: str = "frames.mp4",
    format_id: float = 1.2,
    links: list | None = None,
) -> None:
    """A minimal .slp: one frame of ``video``, one instance per row of ``points`` (x, y, visible)."""
    meta = {
        "nodes": [{"name": "left_ear"}, {"name": "right_ear"}, {"name": "nose"}],
        "skeletons": [{"graph": {"name": "Skeleton-0"}, "nodes": [{"id": 2}, {"id": 0}, {"id": 1}], "links": links or []}],
    }
    n, k = len(instance_types), 3
    pt_dtype = [("x", "<f8"), ("y", "<f8"), ("visible", "?"), ("complete", "?")]
    pts = np.zeros(n * k, pt_dtype)
    pts["x"], pts["y"], pts["visible"] = points[..., 0].ravel(), points[..., 1].ravel(), points[..., 2].ravel().astype(bool)
    inst_dtype = [
        ("instance_id", "<i8"), ("instance_type", "u1"), ("frame_id", "<u8"), ("skeleton", "<u4"), ("track", "<i4"),
        ("from_predicted", "<i8"), ("score", "<f4"), ("point_id_start", "<u8"), ("point_id_end", "<u8"),
    ]
    inst = np.zeros(n, inst_dtype)
    inst["instance_id"] = np.arange(n)
    inst["instance_type"] = instance_types
    inst["point_id_start"] = np.arange(n) * k
    inst["point_id_end"] = np.arange(n) * k + k
    frame_dtype = [("frame_id", "<u8"), ("video", "<u4"), ("frame_idx", "<u8"), ("instance_id_start", "<u8"), ("instance_id_end", "<u8")]
    frames = np.array([(0, 0, 5, 0, n)], frame_dtype)
    with h5py.File(path, "w") as f:
        f.create_group("metadata")
        f["metadata"].attrs["json"] = np.bytes_(json.dumps(meta))
        f["metadata"].attrs["format_id"] = format_id
        f.create_dataset("videos_json", data=np.array([json.dumps({"backend": {"filename": video}}).encode()]))
        f.create_dataset("frames", data=frames)
        f.create_dataset("instances", data=inst)
        f.create_dataset("points", data=pts)


def _write_video(path: Path, n: int = 8) -> np.ndarray:
    """A small lossless-enough video whose frame ``i`` is uniformly grey level ``20 * i``."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    w.release()
    return np.arange(n) * 20


def test_visibility_flags_skeleton_order_and_symmetry(tmp_path: Path) -> None:
    nan = np.nan
    pts = np.array([[[10, 12, 1], [20, 22, 0], [nan, nan, 0]], [[1, 2, 1], [3, 4, 1], [5, 6, 1]]], float)
    body = {"py/reduce": [{"py/type": "sleap.skeleton.EdgeType"}, {"py/tuple": [1]}]}
    sym = {"py/reduce": [{"py/type": "sleap.skeleton.EdgeType"}, {"py/tuple": [2]}]}
    links = [{"source": 0, "target": 1, "type": sym}, {"source": 2, "target": 0, "type": body}, {"source": 2, "target": 1, "type": {"py/id": 2}}]
    _write_slp(tmp_path / "a.slp", pts, instance_types=(0, 1), links=links)
    _write_video(tmp_path / "frames.mp4")
    report = _convert(tmp_path / "a.slp", tmp_path / "out")
    data, meta = load_dataset(tmp_path / "out")
    assert meta.keypoint_names == ["nose", "left_ear", "right_ear"]
    assert meta.swap == ["", "right_ear", "left_ear"]
    assert meta.skeleton.tolist() == [[0, 1], [0, 2]]
    assert data.visibility.tolist() == [[2, 0, 0]]
    np.testing.assert_allclose(data.keypoints[0, 0], [10, 12])
    assert [d["entry"] for d in report.dropped] == ["instances[1]", "instances[0].points[left_ear]"]
    img = np.asarray(Image.open(data.image_path(0)))
    assert img.shape[:2] == (48, 64) and abs(int(img.mean()) - 100) <= 3
    assert data.file_names == ["frames/frame_000005.png"]


def test_hidden_points_as_occluded_on_request(tmp_path: Path) -> None:
    pts = np.array([[[10, 12, 1], [20, 22, 0], [np.nan, np.nan, 0]]], float)
    _write_slp(tmp_path / "a.slp", pts)
    _write_video(tmp_path / "frames.mp4")
    convert(tmp_path / "a.slp", tmp_path / "out", split="val", report=ConversionReport("sleap", "a.slp"), hidden_as_occluded=True)
    data, _ = load_dataset(tmp_path / "out", split="val")
    assert data.visibility.tolist() == [[2, 1, 0]]
    np.testing.assert_allclose(data.keypoints[0, :2], [[10, 12], [20, 22]])


def test_legacy_format_shifts_half_a_pixel(tmp_path: Path) -> None:
    pts = np.array([[[10, 12, 1], [20, 22, 1], [30, 32, 1]]], float)
    _write_slp(tmp_path / "old.slp", pts, format_id=1.0)
    _write_video(tmp_path / "frames.mp4")
    _convert(tmp_path / "old.slp", tmp_path / "out")
    data, _ = load_dataset(tmp_path / "out")
    np.testing.assert_allclose(data.keypoints[0], pts[0, :, :2] - 0.5)


def test_missing_video_names_video_and_slp(tmp_path: Path) -> None:
    _write_slp(tmp_path / "a.slp", np.ones((1, 3, 3)), video="/nowhere/lost_video.mp4")
    with pytest.raises(DataError) as e:
        _convert(tmp_path / "a.slp", tmp_path / "out")
    assert "lost_video.mp4" in str(e.value) and "a.slp" in str(e.value)
    assert not (tmp_path / "out").exists()


def test_not_hdf5_and_missing_tables(tmp_path: Path) -> None:
    bad = tmp_path / "bad.slp"
    bad.write_text("not hdf5")
    with pytest.raises(DataError, match="bad.slp.*not a SLEAP"):
        read_slp(bad)
    with h5py.File(tmp_path / "empty.slp", "w") as f:
        f.create_group("metadata")
    with pytest.raises(DataError, match=r"empty.slp: videos_json: missing HDF5 entry"):
        read_slp(tmp_path / "empty.slp")


def test_only_predictions_is_an_error(tmp_path: Path) -> None:
    _write_slp(tmp_path / "a.slp", np.ones((1, 3, 3)), instance_types=(1,))
    with pytest.raises(DataError, match=r"a.slp: instances: no user-labelled instances"):
        _convert(tmp_path / "a.slp", tmp_path / "out")


def test_point_count_mismatch_names_instance(tmp_path: Path) -> None:
    _write_slp(tmp_path / "a.slp", np.ones((1, 3, 3)))
    with h5py.File(tmp_path / "a.slp", "r+") as f:
        inst = f["instances"][:]
        inst["point_id_end"] = 2
        del f["instances"]
        f.create_dataset("instances", data=inst)
    with pytest.raises(DataError, match=r"a.slp: instances\[0\]: 2 points"):
        convert(tmp_path / "a.slp", tmp_path / "out", split="train", report=ConversionReport("sleap", "a.slp"))
