"""inference.video + run_infer: sources, sinks keeping fps/size, atomic outputs, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose.data.image import read_image
from pose.errors import CheckpointError, ConfigError, DataError
from pose.inference import infer as infer_module
from pose.inference.infer import InferOptions, run_infer
from pose.inference.video import Frame, open_source, stream
from pose.inference.visualize import DrawOptions

ROBOT = "sleap_samples/videos/small_robot_3_frame.mp4"


def make_video(path: Path, frames: int = 5, size: tuple[int, int] = (96, 64), fps: float = 12.0) -> Path:
    """A small synthetic video: moving bright square on a gradient."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v")), fps, size)
    for i in range(frames):
        img = np.tile(np.linspace(0, 200, w, dtype=np.uint8)[None, :, None], (h, 1, 3))
        cv2.rectangle(img, (5 + 8 * i, 10), (25 + 8 * i, 40), (255, 255, 255), -1)
        writer.write(img)
    writer.release()
    return path


def probe(path: Path) -> tuple[float, int, int, int]:
    cap = cv2.VideoCapture(str(path))
    out = (cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
           int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    cap.release()
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_real_video_source(shared_data: Path) -> None:
    src = open_source(shared_data / ROBOT)
    frames = list(src)
    assert src.kind == "video" and src.count == 3 and src.fps == pytest.approx(10.0)
    assert [f.name for f in frames] == ["frame_000000", "frame_000001", "frame_000002"]
    assert all(f.image.shape == (320, 560, 3) and f.image.dtype == np.uint8 for f in frames)


def test_real_video_keeps_fps_and_size(shared_data: Path, pose_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "robot.mp4"
    summary = run_infer(shared_data / ROBOT, InferOptions(pose_model=pose_ckpt, full_frame=True, out=out, save_json=tmp_path / "r.json",
                                                          device="cpu", progress=False, batch_size=2))
    assert probe(out) == probe(shared_data / ROBOT)
    assert summary["frames"] == 3 and summary["instances"] == 3 and summary["fps"] > 0
    assert set(summary["ms_per_frame"]) == {"decode", "detect", "crop", "pose", "draw", "encode"}
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [i["id"] for i in doc["images"]] == [0, 1, 2] and doc["images"][0]["width"] == 560
    assert [r["image_id"] for r in doc["results"]] == [0, 1, 2]
    assert all(len(r["keypoints"]) == 3 * 17 and r["bbox"] == [0, 0, 560, 320] for r in doc["results"])
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_synthetic_video_keeps_fps_and_size(pose_ckpt: Path, tmp_path: Path, suffix: str) -> None:
    src = make_video(tmp_path / f"in{suffix}", frames=4, size=(96, 64), fps=12.0)
    out = tmp_path / f"out{suffix}"
    run_infer(src, InferOptions(pose_model=pose_ckpt, full_frame=True, out=out, device="cpu", progress=False, batch_size=3,
                                draw=DrawOptions(draw_bbox=True)))
    assert probe(out) == probe(src) == (12.0, 96, 64, 4)


def video_stream_meta(path: Path) -> dict:
    """The video stream as ffmpeg reports it (codec, pix_fmt, size, fps): an ffprobe stand-in."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        return next(reader)
    finally:
        reader.close()


def test_mp4_output_is_h264_that_browsers_play(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.avi", frames=5, size=(96, 64), fps=25.0)
    out = tmp_path / "out" / "o.mp4"
    stream(open_source(src), lambda batch: [f.image for f in batch], out=out, progress=False)
    meta = video_stream_meta(out)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")  # what browsers decode
    assert meta["size"] == (96, 64) and meta["fps"] == pytest.approx(25.0)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while downloading
    first_in, first_out = (next(iter(open_source(p))).image.astype(int) for p in (src, out))
    assert np.abs(first_in - first_out).mean() < 4  # the same picture
    assert probe(out)[3] == 5 and leftovers(out.parent) == []


def test_odd_sized_frames_are_padded_to_even(tmp_path: Path) -> None:
    src = tmp_path / "odd"
    src.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(src / name), np.full((63, 97, 3), 120, np.uint8))
    stream(open_source(src), lambda batch: [f.image for f in batch], out=tmp_path / "o.mkv", progress=False)
    meta = video_stream_meta(tmp_path / "o.mkv")
    assert meta["codec"] == "h264" and meta["size"] == (98, 64)


def test_interrupted_run_leaves_no_output(pose_ckpt: Path, tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=6)
    seen: list[int] = []

    class Stop(Exception):
        pass

    def stop_at_third(frame: Frame, result: object) -> None:
        seen.append(frame.index)
        if frame.index == 2:
            raise Stop

    outs = tmp_path / "outs"
    for out in (outs / "v.mp4", outs / "frames"):
        with pytest.raises(Stop):
            run_infer(src, InferOptions(pose_model=pose_ckpt, full_frame=True, out=out, save_json=outs / "r.json", device="cpu",
                                        progress=False, batch_size=1), callbacks=[stop_at_third])
        assert not out.exists()
    assert not (outs / "r.json").exists() and leftovers(outs) == []
    assert seen == [0, 1, 2, 0, 1, 2]


def test_folder_and_image_sources_and_sinks(synth: Path, pose_ckpt: Path, tmp_path: Path) -> None:
    images = synth / "images"
    out = tmp_path / "drawn"
    out.mkdir()
    (out / "keep.txt").write_text("user file")
    summary = run_infer(images, InferOptions(pose_model=pose_ckpt, full_frame=True, out=out, device="cpu", progress=False, batch_size=3))
    names = sorted(p.name for p in images.iterdir())
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "keep.txt"]) and summary["frames"] == len(names)
    first = images / names[0]
    assert read_image(out / names[0]).shape == read_image(first).shape
    single = tmp_path / "one.png"
    run_infer(first, InferOptions(pose_model=pose_ckpt, full_frame=True, out=single, device="cpu", progress=False,
                                  draw=DrawOptions(draw_heatmap=True)))
    assert read_image(single).shape == read_image(first).shape
    with pytest.raises(ConfigError, match="one image but the source is a folder"):
        run_infer(images, InferOptions(pose_model=pose_ckpt, full_frame=True, out=tmp_path / "x.png", device="cpu", progress=False))


def test_detector_boxes_reach_the_pose_model(pose_ckpt: Path, det_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_video(tmp_path / "in.mp4", frames=3)
    calls: list[dict] = []
    box = np.array([[10, 8, 50, 60]], np.float32)

    def fake_detect(model, images, **kw):
        calls.append(kw)
        return [(box, np.array([0.8], np.float32), np.array([1]))] * len(images)

    monkeypatch.setattr(infer_module, "detect", fake_detect)
    run_infer(src, InferOptions(det_model=det_ckpt, pose_model=pose_ckpt, out=tmp_path / "o.mp4", save_json=tmp_path / "r.json", device="cpu",
                                progress=False, batch_size=2, bbox_thr=0.4, nms_thr=0.6))
    assert [c["score_thr"] for c in calls] == [0.4, 0.4] and calls[0]["nms_thr"] == 0.6 and calls[0]["classes"] == [1]
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [r["bbox"] for r in results] == [[10.0, 8.0, 40.0, 52.0]] * 3 and results[0]["bbox_score"] == pytest.approx(0.8)


def test_real_detector_runs(pose_ckpt: Path, det_ckpt: Path, tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=2)
    summary = run_infer(src, InferOptions(det_model=det_ckpt, pose_model=pose_ckpt, out=tmp_path / "o.mp4", device="cpu", progress=False,
                                          bbox_thr=0.9))
    assert summary["frames"] == 2 and summary["ms_per_frame"]["detect"] > 0
    assert probe(tmp_path / "o.mp4")[1:] == (96, 64, 2)


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="source not found"):
        open_source(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder holds no images"):
        open_source(tmp_path / "empty")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 500)
    with pytest.raises(DataError, match="broken.mp4: cannot read video"):
        open_source(tmp_path / "broken.mp4")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nonsense")
    with pytest.raises(DataError, match="broken.jpg"):
        open_source(tmp_path / "broken.jpg")
    with pytest.raises(DataError, match="cannot open webcam 97"):
        open_source("97")


def test_bad_options(pose_ckpt: Path, det_ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_video(tmp_path / "in.mp4", frames=2)
    kw = dict(device="cpu", progress=False)
    with pytest.raises(ConfigError, match="--det-model, or --full-frame"):
        run_infer(src, InferOptions(pose_model=pose_ckpt, out=tmp_path / "o.mp4", **kw))
    with pytest.raises(ConfigError, match="not both"):
        run_infer(src, InferOptions(pose_model=pose_ckpt, det_model=det_ckpt, full_frame=True, out=tmp_path / "o.mp4", **kw))
    with pytest.raises(ConfigError, match="--kpt-thr: must be in"):
        run_infer(src, InferOptions(pose_model=pose_ckpt, full_frame=True, out=tmp_path / "o.mp4", draw=DrawOptions(kpt_thr=1.5), **kw))
    with pytest.raises(CheckpointError, match="not found"):
        run_infer(src, InferOptions(pose_model=tmp_path / "none.pth", full_frame=True, out=tmp_path / "o.mp4", **kw))
    (tmp_path / "corrupt.pth").write_bytes(pose_ckpt.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        run_infer(src, InferOptions(pose_model=tmp_path / "corrupt.pth", full_frame=True, out=tmp_path / "o.mp4", **kw))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(ConfigError, match="--show needs a display"):
        run_infer(src, InferOptions(pose_model=pose_ckpt, full_frame=True, show=True, **kw))
    assert not (tmp_path / "o.mp4").exists() and leftovers(tmp_path) == []


def test_stream_rejects_mixed_frame_sizes_in_a_video(synth: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((40, 60, 3), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((50, 60, 3), np.uint8))
    with pytest.raises(DataError, match="b.png: frame is 60x50 but the output video is 60x40"):
        stream(open_source(folder), lambda batch: [f.image for f in batch], out=tmp_path / "v.mp4", progress=False)
    assert not (tmp_path / "v.mp4").exists() and leftovers(tmp_path) == []
