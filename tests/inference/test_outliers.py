"""``pose data outliers``: scoring and picking on synthetic score arrays, the draft writers read back
by the converters, and the command on the real DeepLabCut openfield video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pose.data.convert import run_convert
from pose.data.layout import load_dataset
from pose.inference.api import estimate_frames, load_pose_model
from pose.errors import ConfigError, DataError
from pose.inference.infer import InferOptions
from pose.inference.outliers import DraftOptions, OutlierOptions, default_gap, frame_range, pick_frames, scan_video, score_frames
from pose.inference.outputs.drafts import Drafts, write_dlc_drafts, write_labelme_drafts

from model_files import make_pose_checkpoint

PROJECT = "dlc_openfield/openfield-Pranav-2018-10-30"
NAMES = ["snout", "leftear", "rightear", "tailbase"]


def _walk(frames: int, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A 40 px animal moving 1 px per frame, every keypoint scored 0.9."""
    base = np.array([[0, 0], [20, 10], [20, -10], [40, 0]], np.float64)[:k]
    kpts = base[None] + np.arange(frames, dtype=np.float64)[:, None, None] * np.array([1.0, 0.0])
    return kpts, np.full((frames, k), 0.9)


def test_low_scores_and_jumps_score_high() -> None:
    kpts, scores = _walk(50)
    scores[10] = 0.2  # unsure frame
    kpts[30:, 0] += 200.0  # the snout jumps 200 px (5 animal sizes) at frame 30 and stays
    kpts[40] = np.nan  # nothing found
    scores[40] = np.nan
    s = score_frames(kpts, scores, np.arange(50), jump_weight=1.0, jump_scale=0.5)
    assert s.uncertainty[10] == pytest.approx(0.8) and s.uncertainty[0] == pytest.approx(0.1)
    assert s.uncertainty[40] == 1.0 and s.jump[40] == 0.0 and s.jump[41] == 0.0  # no jump across a frame without a find
    assert s.jump[30] == 1.0 and s.jump[31] < 0.1  # 1 px per frame is no jump
    size = np.hypot(40.0, 20.0)
    assert s.jump[5] == pytest.approx(1.0 / size / 0.5)
    order = np.argsort(-s.total)
    assert set(order[:3]) == {10, 30, 40}
    only_scores = score_frames(kpts, scores, np.arange(50), jump_weight=0.0)
    np.testing.assert_allclose(only_scores.total, only_scores.uncertainty)


def test_jumps_between_frames_that_are_not_neighbours_do_not_count() -> None:
    kpts, scores = _walk(4)
    kpts[2:] += 500.0
    s = score_frames(kpts, scores, np.array([0, 1, 7, 8]))
    assert s.jump[2] == 0.0


def test_picks_the_worst_frames_at_least_min_gap_apart() -> None:
    total = np.zeros(100)
    total[[10, 11, 12, 50, 90, 93]] = [0.9, 1.0, 0.95, 0.5, 0.7, 0.8]
    assert pick_frames(total, 3, 5) == [11, 50, 93]
    assert pick_frames(total, 6, 1) == [10, 11, 12, 50, 90, 93]
    assert pick_frames(total, 2, 3) == [11, 93]
    assert pick_frames(np.ones(3), 10, 1) == [0, 1, 2]  # fewer frames than asked


@pytest.mark.parametrize("frames,num", [(2330, 20), (100, 20), (41, 20), (20, 20), (1000, 7)])
def test_default_gap_always_finds_num_frames(frames: int, num: int) -> None:
    rng = np.random.default_rng(frames)
    for _ in range(20):
        picked = pick_frames(rng.random(frames), num, default_gap(frames, num))
        assert len(picked) == num
        assert np.diff(picked).min() >= default_gap(frames, num)


def test_frame_range_follows_dlc_start_stop() -> None:
    assert frame_range(2330, 0.0, 1.0) == range(0, 2330)
    assert frame_range(2330, 0.0, 0.1) == range(0, 233)
    assert frame_range(100, 0.5, 0.51) == range(50, 51)
    assert frame_range(3, 0.9, 1.0) == range(2, 3)


def _drafts(tmp_path: Path) -> Drafts:
    images = {f: np.full((48, 64, 3), f, np.uint8) for f in (3, 17)}
    kpts = np.array([[[5, 6], [7, 8], [9, 10], [11, 12]], [[15, 16], [17, 18], [19, 20], [21, 22]]], np.float64)
    scores = np.array([[0.9, 0.05, 0.9, 0.9], [0.9, 0.9, 0.9, 0.9]])
    return Drafts(str(tmp_path / "mouse cam.mp4"), 150, [3, 17], images, NAMES, kpts, scores, kpt_thr=0.1)


def test_dlc_drafts_are_read_by_dlc_readers_and_the_converter(tmp_path: Path) -> None:
    csv, h5 = write_dlc_drafts(_drafts(tmp_path), tmp_path / "out", "Pranav")
    folder = tmp_path / "out/labeled-data/mouse cam"
    assert sorted(p.name for p in folder.iterdir()) == ["CollectedData_Pranav.csv", "CollectedData_Pranav.h5", "img003.png", "img017.png"]
    from_csv = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    from_h5 = pd.read_hdf(h5, "df_with_missing")
    for df in (from_csv, from_h5):
        assert df.columns.names == ["scorer", "bodyparts", "coords"]
        assert list(df.index) == ["labeled-data/mouse cam/img003.png", "labeled-data/mouse cam/img017.png"]
        assert np.isnan(df.iloc[0][("Pranav", "leftear", "x")])  # scored below --kpt-thr: left to place
        assert df.iloc[1][("Pranav", "tailbase", "y")] == 22.0
    run_convert("dlc", tmp_path / "out", tmp_path / "ds")
    _, meta = load_dataset(tmp_path / "ds", split="train")
    assert meta.keypoint_names == NAMES
    coco = json.loads((tmp_path / "ds/annotations/train.json").read_text())
    assert len(coco["images"]) == 2
    by_name = {Path(im["file_name"]).name: im["id"] for im in coco["images"]}
    ann = next(a for a in coco["annotations"] if a["image_id"] == by_name["img017.png"])
    assert ann["keypoints"][:3] == [15.0, 16.0, 2]


def test_labelme_drafts_are_read_by_the_converter(tmp_path: Path) -> None:
    files = write_labelme_drafts(_drafts(tmp_path), tmp_path / "out")
    assert [f.name for f in files] == ["img003.json", "img017.json"]
    doc = json.loads(files[0].read_text())
    assert doc["imagePath"] == "img003.png" and (doc["imageWidth"], doc["imageHeight"]) == (64, 48)
    assert [s["label"] for s in doc["shapes"]] == ["snout", "rightear", "tailbase"]
    run_convert("labelme", tmp_path / "out", tmp_path / "ds")
    coco = json.loads((tmp_path / "ds/annotations/train.json").read_text())
    assert len(coco["images"]) == 2 and len(coco["annotations"]) == 2


# ----------------------------------------------------------------------------- the command, real video
@pytest.fixture(scope="module")
def openfield_model(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained simplebaseline-r18 with the openfield keypoints: its heatmap peaks (scores and
    positions) still differ from frame to frame, which is all the ranking needs."""
    tmp = tmp_path_factory.mktemp("openfield")
    run_convert("dlc", shared_data / PROJECT, tmp / "ds", split="val")
    return make_pose_checkpoint(tmp / "tiny.pth", tmp / "ds", preset="simplebaseline-r18")


def pose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pose.cli", *args], capture_output=True, text=True, timeout=300)


def test_outliers_on_the_real_video(shared_data: Path, openfield_model: Path, tmp_path: Path) -> None:
    video = shared_data / PROJECT / "videos/m3v1mp4.mp4"
    out = tmp_path / "drafts"
    r = pose("data", "outliers", str(video), "--model", str(openfield_model), "--num", "5", "--out", str(out), "--stop", "0.05",
             "--scorer", "Pranav", "--threads", "1", "--no-progress", "--full-frame")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "outliers.json").read_text())
    scores = np.array(doc["scores"])
    assert doc["frames_in_video"] == 2330 and doc["frames_scored"] == [0, 117] and len(scores) == 117
    picked = [p["frame"] for p in doc["picked"]]
    assert np.ptp(scores) > 0
    assert picked == pick_frames(scores, 5, doc["min_gap"])  # the worst frames, min_gap apart
    unpicked = np.delete(scores, picked)
    assert scores[picked].max() >= unpicked.max()

    folder = out / "labeled-data/m3v1mp4"
    assert sorted(p.name for p in folder.glob("*.png")) == [f"img{f:04d}.png" for f in picked]
    table = pd.read_csv(folder / "CollectedData_Pranav.csv", header=[0, 1, 2], index_col=0)
    assert table.equals(pd.read_hdf(folder / "CollectedData_Pranav.h5"))
    assert list(table.index) == [f"labeled-data/m3v1mp4/img{f:04d}.png" for f in picked]

    # the frames are the video's, and the drafts and scores are the model's predictions on them
    cap, frames = cv2.VideoCapture(str(video)), {}
    for i in range(max(picked) + 1):
        ok, image = cap.read()
        if i in picked:
            frames[i] = image
    cap.release()
    model = load_pose_model(openfield_model)
    images = [frames[f] for f in picked]
    for f, image in zip(picked, images):
        assert np.array_equal(cv2.imread(str(folder / f"img{f:04d}.png")), image)
    results = estimate_frames(model, images, [None] * len(images))
    for p, result, (_, row) in zip(doc["picked"], results, table.iterrows()):
        np.testing.assert_allclose(row.to_numpy().reshape(-1, 2), result.keypoints[0], atol=1e-3)
        assert p["uncertainty"] == pytest.approx(1 - float(result.keypoint_scores[0].mean()), abs=1e-6)
        assert p["score"] == scores[p["frame"]]


def test_bad_inputs_fail_before_any_work(shared_data: Path, openfield_model: Path, tmp_path: Path) -> None:
    video = shared_data / PROJECT / "videos/m3v1mp4.mp4"
    (tmp_path / "full").mkdir()
    (tmp_path / "full/x").write_text("x")
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    infer = InferOptions(openfield_model, full_frame=True, progress=False)
    with pytest.raises(ConfigError, match="--num: must be >= 1"):
        scan_video(video, infer, OutlierOptions(num=0))
    with pytest.raises(DataError, match="bad.mp4"):
        scan_video(tmp_path / "bad.mp4", infer, OutlierOptions())
    with pytest.raises(ConfigError, match="--start/--stop"):
        scan_video(video, infer, OutlierOptions(start=0.5, stop=0.5))
    with pytest.raises(ConfigError, match="folder exists and is not empty"):
        DraftOptions(tmp_path / "full").check()
    with pytest.raises(ConfigError, match="--format: unknown format"):
        DraftOptions(tmp_path / "o", format="coco").check()
    DraftOptions(tmp_path / "full", force=True).check()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "full"]
    # through the command: one line, exit 2, nothing written
    r = pose("data", "outliers", str(tmp_path / "bad.mp4"), "--model", str(openfield_model), "--out", str(tmp_path / "o"))
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and lines[0].startswith("error: ") and "bad.mp4" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
