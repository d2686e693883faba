"""Finding moved media files and placing images."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose.data.convert.imagefiles import find_moved_file, place_image, stored_parts
from pose.errors import DataError


def test_stored_parts_handles_windows_and_posix() -> None:
    assert stored_parts("D:/data/videos\\robot0.jpg") == ["data", "videos", "robot0.jpg"]
    assert stored_parts("/home/u/../clip.mp4") == ["home", "u", "clip.mp4"]


def test_find_moved_file_prefers_as_stored_then_longest_tail(tmp_path: Path) -> None:
    (tmp_path / "proj" / "labels").mkdir(parents=True)
    (tmp_path / "proj" / "videos").mkdir()
    (tmp_path / "proj" / "videos" / "a.mp4").write_bytes(b"1")
    (tmp_path / "proj" / "labels" / "a.mp4").write_bytes(b"2")
    bases = [tmp_path / "proj" / "labels", tmp_path / "proj"]
    assert find_moved_file("C:\\old\\videos\\a.mp4", bases) == tmp_path / "proj" / "videos" / "a.mp4"
    assert find_moved_file("a.mp4", bases) == tmp_path / "proj" / "labels" / "a.mp4"
    assert find_moved_file("/gone/b.mp4", bases) is None


def test_place_image_links_or_copies(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    place_image(tmp_path / "a.png", tmp_path / "out" / "x" / "a.png")
    assert (tmp_path / "out" / "x" / "a.png").read_bytes() == b"png"
    with pytest.raises(DataError, match="image file not found"):
        place_image(tmp_path / "missing.png", tmp_path / "out" / "m.png")
