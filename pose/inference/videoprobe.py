"""Check a video file before analysing it: that it holds video frames, and that they come at one
constant rate. Lab outputs index results by frame and time them as frame index / fps (DLC rows,
SLEAP frame indices, NWB timestamps, the drawn video's fps), which is wrong for a variable-rate
video or one with gaps, so those are refused with a hint to re-encode.

The timestamps come from ffmpeg (the binary of the imageio-ffmpeg wheel) demuxing the file
without decoding it (``-c copy -f framecrc``): milliseconds for a clip, seconds for hours.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.errors import DataError

#: A frame interval further than this fraction of the typical one from it makes the rate variable.
RATE_TOLERANCE = 0.5
PROBE_TIMEOUT_S = 300
UNREADABLE = "cannot read video (not a video, unsupported codec or corrupt)"


@dataclass(frozen=True)
class VideoTiming:
    frames: int  # video packets (= frames) in the first video stream
    interval: float | None  # typical seconds between frames (None for a single frame)


def _packet_times(path: Path) -> tuple[int, list[str], np.ndarray]:
    """(ffmpeg return code, its error lines, sorted presentation times in seconds)."""
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                           "-c", "copy", "-f", "framecrc", "-"],
                          capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, errors="replace")
    tb, pts = 1.0, []
    for line in proc.stdout.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            tb = int(num) / int(den)
        elif line and not line.startswith("#"):
            pts.append(int(line.split(",")[2]))
    errors = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    return proc.returncode, errors, np.sort(np.array(pts, np.float64)) * tb


def probe_video(path: str | Path) -> VideoTiming:
    """The frame count and interval of ``path``; ``DataError`` for no frames or a variable rate."""
    path = Path(path)
    code, errors, times = _packet_times(path)
    if not len(times):
        if any("matches no streams" in e for e in errors):
            raise DataError("holds no video stream (zero video frames)", file=path, hint="give a video file with frames")
        if code != 0:
            raise DataError(UNREADABLE, file=path)
        raise DataError("video holds zero frames", file=path, hint="give a video file with frames")
    if any("partial file" in e for e in errors):
        raise DataError(f"video is truncated: its index lists frames past the end of the file ({len(times)} readable)", file=path,
                        hint="copy the file again, or re-encode what is readable")
    if len(times) < 2:
        return VideoTiming(len(times), None)
    steps = np.diff(times)
    typical = float(np.median(steps))
    worst = float(np.abs(steps - typical).max())
    if typical <= 0 or worst > RATE_TOLERANCE * typical:
        raise DataError(f"variable frame rate: frames {1000 * steps.min():.1f} to {1000 * steps.max():.1f} ms apart "
                        f"(typically {1000 * typical:.1f} ms); outputs need one constant rate", file=path,
                        hint=f"re-encode at a constant rate first, e.g. ffmpeg -i {path.name} -fps_mode cfr -r "
                             f"{1 / typical if typical > 0 else 30:.3g} constant.mp4")
    return VideoTiming(len(times), typical)
