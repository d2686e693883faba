"""Bad videos for ``pose infer``: one line naming the file, exit 2, and no output of any kind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from badinput.support import assert_nothing_written, assert_user_error, run_cli


def ffmpeg(out: Path, *args: str) -> Path:
    """A test video made by the ffmpeg of the imageio-ffmpeg wheel from its test pattern."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", *args, str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    return out


def variable_rate(out: Path) -> Path:
    """10 frames 100 ms apart, then 10 frames 33 ms apart."""
    return ffmpeg(out, "-frames:v", "20", "-vf", r"settb=1/1000,setpts=if(lt(N\,10)\,N*100\,1000+(N-10)*33)",
                  "-fps_mode", "passthrough", "-enc_time_base", "1/1000", "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p")


def no_frames(out: Path) -> Path:
    return ffmpeg(out, "-frames:v", "0", "-c:v", "libx264")


def truncated(out: Path) -> Path:
    """30 frames with the index first (faststart), cut after 60% of its bytes."""
    whole = ffmpeg(out.with_name("whole.mp4"), "-frames:v", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    data = whole.read_bytes()
    whole.unlink()
    out.write_bytes(data[: len(data) * 6 // 10])
    return out


def not_a_video(out: Path) -> Path:
    out.write_bytes(b"this is a text file named like a video\n" * 20)
    return out


CASES = [
    ("vfr.mp4", variable_rate, "variable frame rate: frames 33.0 to 100.0 ms apart"),
    ("empty.mp4", no_frames, "zero video frames"),
    ("cut.mp4", truncated, "video is truncated"),
    ("notes.mp4", not_a_video, "cannot read video"),
]


@pytest.mark.parametrize("name, make, says", CASES, ids=[c[0] for c in CASES])
def test_bad_video_refused_with_nothing_written(name: str, make, says: str, ckpt: Path, tmp_path: Path) -> None:  # noqa: ANN001
    src = make(tmp_path / name)
    out = tmp_path / "out"
    targets = [out / "drawn.mp4", out / "results.json"]
    r = run_cli("infer", src, "--pose-model", ckpt, "--full-frame", "--device", "cpu", "--out", targets[0], "--save-json", targets[1])
    line = assert_user_error(r, file=src, says=says)
    if name == "vfr.mp4":
        assert "hint: re-encode at a constant rate" in r.err
    for target in targets:
        assert_nothing_written(target)
    assert not out.exists() or not any(out.iterdir()), line


def test_lab_outputs_through_the_cli(ckpt: Path, tmp_path: Path) -> None:
    """pose infer --save-dlc/--save-slp/--save-nwb --track-ids --smooth on a real small video."""
    import pandas as pd
    import sleap_io as sio

    src = ffmpeg(tmp_path / "clip.mp4", "-frames:v", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    r = run_cli("infer", src, "--pose-model", ckpt, "--full-frame", "--device", "cpu", "--save-dlc", tmp_path / "dlc",
                "--save-slp", tmp_path / "o.slp", "--save-nwb", tmp_path / "o.nwb", "--smooth", "--max-tracks", "1")
    assert r.code == 0, r.err
    df = pd.read_hdf(tmp_path / "dlc" / "clipDLC_rtmpose-t.h5")
    assert df.shape[0] == 4 and df.columns.names == ["scorer", "bodyparts", "coords"]
    assert len(sio.load_slp(str(tmp_path / "o.slp")).labeled_frames) == 4 and (tmp_path / "o.nwb").stat().st_size > 0
    bad = run_cli("infer", src, "--pose-model", ckpt, "--full-frame", "--device", "cpu", "--save-slp", tmp_path / "x.h5")
    assert_user_error(bad, file=tmp_path / "x.h5", entry="--save-slp", says="must end in .slp")
