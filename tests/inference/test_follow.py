"""pose infer --follow: the box of the previous frame's keypoints, the whole frame when unsure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose.errors import ConfigError
from pose.inference.api import FrameResult
from pose.inference.follow import BoxFollower
from pose.inference.infer import InferOptions, run_infer


def result(points: list[tuple[float, float]], scores: list[float], size: tuple[int, int] = (640, 480)) -> FrameResult:
    k = np.array(points, np.float32)[None]
    return FrameResult(size, np.array([[0, 0, *size]], np.float32), np.ones(1, np.float32), k, np.array(scores, np.float32)[None])


def test_follows_the_keypoints_box_padded_and_falls_back_to_the_whole_frame() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    f = BoxFollower(pad=0.25, min_score=0.3)
    assert f.next_boxes(image).tolist() == [[0, 0, 640, 480]] and f.full_frames == 1
    f.update(result([(100, 100), (200, 140), (150, 120)], [0.9, 0.8, 0.7]))
    # box 100..200 x 100..140 (100 x 40), padded by 25 % of each side: 75..225 x 90..150
    assert f.next_boxes(image).tolist() == [[75, 90, 225, 150]] and f.full_frames == 1
    f.update(result([(600, 460), (639, 479), (10, 10)], [0.9, 0.9, 0.1]))  # the unsure keypoint is left out; clipped
    assert f.next_boxes(image).tolist() == [[590.25, 455.25, 640, 480]]
    f.update(result([(100, 100), (200, 140), (150, 120)], [0.2, 0.2, 0.3]))  # mean 0.23 < 0.3: lost
    assert f.next_boxes(image).tolist() == [[0, 0, 640, 480]] and f.full_frames == 2
    f.update(FrameResult((640, 480), np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 3, 2), np.float32),
                         np.zeros((0, 3), np.float32)))
    assert f.box is None


def test_run_infer_follow_poses_one_box_per_frame(pose_ckpt: Path, tmp_path: Path) -> None:
    from inference.test_video import make_video

    src = make_video(tmp_path / "in.mp4", frames=4)
    out = tmp_path / "r.json"
    summary = run_infer(src, InferOptions(pose_model=pose_ckpt, follow=True, follow_pad=0.0, follow_thr=0.0, save_json=out, device="cpu",
                                          progress=False))
    results = json.loads(out.read_text())["results"]
    assert summary["frames"] == 4 and len(results) == 4 and summary["follow_full_frames"] == 1
    assert results[0]["bbox"] == [0, 0, 96, 64], "the first frame is posed whole"
    for before, now in zip(results, results[1:]):
        k = np.array(before["keypoints"]).reshape(-1, 3)
        f = BoxFollower(pad=0.0, min_score=0.0)
        f.update(result([tuple(p) for p in k[:, :2]], list(k[:, 2]), size=(96, 64)))
        x1, y1, x2, y2 = f.box
        assert now["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.01), "each frame is posed on the last one's keypoints"
    low = run_infer(src, InferOptions(pose_model=pose_ckpt, follow=True, follow_thr=1.0, save_json=out, device="cpu", progress=False))
    assert low["follow_full_frames"] == 4, "an untrained model never scores 1.0: every frame goes back to the whole frame"


def test_follow_options_are_checked(pose_ckpt: Path, det_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not both \\(--det-model and --follow\\)"):
        InferOptions(pose_model=pose_ckpt, det_model=det_ckpt, follow=True, out=tmp_path / "o.mp4").check()
    with pytest.raises(ConfigError, match="--follow-thr must be in"):
        InferOptions(pose_model=pose_ckpt, follow=True, follow_thr=2.0, out=tmp_path / "o.mp4").check()
