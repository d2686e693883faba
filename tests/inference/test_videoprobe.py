"""Video checks before analysis: real lab videos pass with their frame counts; a decode that ends
early is caught mid-stream too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose.errors import DataError
from pose.inference.video import _captured
from pose.inference.videoprobe import probe_video

REAL = {  # video -> (frames, ms between frames), as OpenCV decodes them
    "sleap_samples/tracks/clip.mp4": (1500, 40.0),
    "sleap_samples/videos/small_robot_3_frame.mp4": (3, 100.0),
    "dlc_openfield/openfield-Pranav-2018-10-30/videos/m3v1mp4.mp4": (2330, 33.333),
    "lightning_pose_mirror_mouse/videos/test_vid.mp4": (994, 4.0),
}


@pytest.mark.parametrize("video", sorted(REAL))
def test_real_videos_are_constant_rate(shared_data: Path, video: str) -> None:
    timing = probe_video(shared_data / video)
    frames, ms = REAL[video]
    assert timing.frames == frames and timing.interval == pytest.approx(ms / 1000, rel=1e-3)


class ShortCapture:
    """A capture whose decoder gives up after ``n`` frames."""

    def __init__(self, n: int) -> None:
        self.left = n

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.left -= 1
        return (True, np.zeros((4, 4, 3), np.uint8)) if self.left > 0 else (False, None)


def test_decode_that_ends_early_is_an_error() -> None:
    first = np.zeros((4, 4, 3), np.uint8)
    assert len(list(_captured(ShortCapture(5), first, 5, Path("v.mp4")))) == 5
    frames = _captured(ShortCapture(3), first, 5, Path("v.mp4"))
    with pytest.raises(DataError, match=r"v.mp4: frame_000003: video ends after 3 of its 5 frames"):
        list(frames)
