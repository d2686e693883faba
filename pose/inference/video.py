"""Frame sources and sinks for ``pose infer``, and the batched loop between them.

Sources: an image file, a folder of images (sorted by name), a video file or a webcam index.
Sinks: an image file, a folder of images, or a video file that keeps the source's fps and frame
size: H.264 (yuv420p, faststart) through the ffmpeg that the imageio-ffmpeg wheel ships for
.mp4/.m4v/.mov/.mkv, so browsers play it; Motion JPEG through OpenCV for .avi. Every sink writes to a temp path beside its target and renames it when the stream ends,
so an interrupted or failed run leaves no truncated output (and no temp file).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pose.data.image import read_image
from pose.errors import ConfigError, DataError
from pose.fileio import write_bytes
from pose.inference.videoprobe import UNREADABLE, probe_video

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Video suffixes written as H.264 by ffmpeg; ``.avi`` is Motion JPEG by OpenCV.
H264_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
VIDEO_FOURCC = {".avi": "MJPG"}
VIDEO_SUFFIXES = (*H264_SUFFIXES, *VIDEO_FOURCC)
#: x264 settings: near-transparent quality, fast enough not to slow inference; even sizes for yuv420p.
H264_PARAMS = ["-preset", "veryfast", "-crf", "20", "-movflags", "+faststart", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
#: Frame rate given to a video written from still images.
STILLS_FPS = 25.0


@dataclass
class Frame:
    index: int
    name: str  # file name for images, ``frame_000000`` for video frames
    image: np.ndarray  # BGR uint8


class FrameSource:
    """Iterable of ``Frame``; ``count`` is None for a webcam, ``fps`` that of the video (or ``STILLS_FPS``)."""

    def __init__(self, kind: str, path: str, fps: float, count: int | None, frames: Iterator[Frame], close: Callable[[], None] = lambda: None) -> None:
        self.kind, self.path, self.fps, self.count = kind, path, fps, count
        self._frames, self._close = frames, close

    @property
    def live(self) -> bool:
        return self.kind == "webcam"

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def close(self) -> None:
        self._close()


def open_source(src: str | Path | int) -> FrameSource:
    """A source for an image, a folder of images, a video file or a webcam index ("0")."""
    if isinstance(src, int) or (isinstance(src, str) and src.isdigit()):
        return _webcam(int(src))
    path = Path(src)
    if not path.exists():
        raise DataError("source not found", file=path, hint="an image, a folder of images, a video file or a webcam index")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"folder holds no images ({', '.join(IMAGE_SUFFIXES)})", file=path)
        return FrameSource("folder", str(path), STILLS_FPS, len(files), _stills(files))
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = read_image(path)
        return FrameSource("image", str(path), STILLS_FPS, 1, iter([Frame(0, path.name, image)]))
    return _video(path)


def _stills(files: list[Path]) -> Iterator[Frame]:
    for i, f in enumerate(files):
        yield Frame(i, f.name, read_image(f))


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Mute fd 2 while OpenCV/FFmpeg open a capture: they print their own lines there
    (``moov atom not found``, ``[ WARN:0] can't open camera``) before we report the failure
    in one line of ours."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _open_capture(target: str | int) -> tuple[Any, np.ndarray | None]:
    with _native_stderr_silenced():
        cap = cv2.VideoCapture(target)
        ok, first = cap.read() if cap.isOpened() else (False, None)
    return cap, first if ok else None


def _video(path: Path) -> FrameSource:
    """A video file: refused when it has no frames or a variable frame rate (``probe_video``),
    or when OpenCV cannot decode its first frame."""
    timing = probe_video(path)
    cap, first = _open_capture(str(path))
    if first is None:
        cap.release()
        raise DataError(UNREADABLE, file=path)
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not (fps > 0 and math.isfinite(fps)):
        fps = 1 / timing.interval if timing.interval else STILLS_FPS
    return FrameSource("video", str(path), fps, timing.frames, _captured(cap, first, timing.frames, path), cap.release)


def _webcam(index: int) -> FrameSource:
    cap, first = _open_capture(index)
    if first is None:
        cap.release()
        raise DataError(f"cannot open webcam {index}", entry="SRC", hint="check the device index and permissions (/dev/video*)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    return FrameSource("webcam", f"webcam:{index}", fps if fps > 0 else STILLS_FPS, None, _captured(cap, first), cap.release)


def _captured(cap: Any, first: np.ndarray, expected: int | None = None, path: Path | None = None) -> Iterator[Frame]:
    """Frames until the capture ends; a video file that ends before its ``expected`` frames
    (truncated or corrupt) is an error, so no output covers only part of it unnoticed."""
    frame, i = first, 0
    while frame is not None:
        yield Frame(i, f"frame_{i:06d}", frame)
        ok, frame = cap.read()
        frame = frame if ok else None
        i += 1
    if expected is not None and i < expected:
        raise DataError(f"video ends after {i} of its {expected} frames (truncated or corrupt)", file=path, entry=f"frame_{i:06d}")


def batches(source: FrameSource, size: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in source:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ----------------------------------------------------------------------------- sinks
class VideoSink:
    """A video file with the source's fps; the first frame fixes the size, others must match.
    H.264 through ffmpeg for ``H264_SUFFIXES`` (odd sizes padded by one pixel: yuv420p needs even
    ones), Motion JPEG through OpenCV for ``.avi``."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.writer: Any = None
        self.size: tuple[int, int] | None = None

    def _open(self, size: tuple[int, int]) -> Any:
        if self.path.suffix.lower() in H264_SUFFIXES:
            import imageio_ffmpeg

            writer = imageio_ffmpeg.write_frames(str(self.tmp), size, fps=self.fps, codec="libx264", pix_fmt_in="bgr24",
                                                 pix_fmt_out="yuv420p", macro_block_size=1, quality=None,
                                                 output_params=H264_PARAMS, ffmpeg_log_level="error")
            writer.send(None)
            return writer
        writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*VIDEO_FOURCC[self.path.suffix.lower()]), self.fps, size)
        if not writer.isOpened():
            raise ConfigError(f"OpenCV cannot write '{self.path.suffix}' video here", file=self.path, entry="--out", hint="use .mp4")
        return writer

    def write(self, frame: Frame, image: np.ndarray) -> None:
        size = (image.shape[1], image.shape[0])
        if self.writer is None:
            self.writer, self.size = self._open(size), size
        elif size != self.size:
            raise DataError(f"frame is {size[0]}x{size[1]} but the output video is {self.size[0]}x{self.size[1]}", file=self.path,  # type: ignore[index]
                            entry=frame.name, hint="write images of different sizes to a folder")
        if isinstance(self.writer, cv2.VideoWriter):
            self.writer.write(image)
        else:
            try:
                self.writer.send(np.ascontiguousarray(image))
            except OSError as e:
                raise DataError(f"ffmpeg stopped encoding ({str(e).splitlines()[0]})", file=self.path, entry="--out") from None

    def _close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.release() if isinstance(writer, cv2.VideoWriter) else writer.close()

    def commit(self) -> None:
        if self.writer is None:
            raise DataError("no frames to write", file=self.path)
        self._close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._close()
        finally:
            self.tmp.unlink(missing_ok=True)


class FolderSink:
    """Images into a temp folder beside ``path``, moved into ``path`` (created if needed) at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
        self.names: list[str] = []

    def write(self, frame: Frame, image: np.ndarray) -> None:
        name = frame.name if Path(frame.name).suffix.lower() in IMAGE_SUFFIXES else f"{frame.name}.jpg"
        cv2.imwrite(str(self.tmp / name), image) or _fail(self.path, name)
        self.names.append(name)

    def commit(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for name in self.names:
            os.replace(self.tmp / name, self.path / name)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class ImageSink:
    """One image file, encoded by its suffix and written atomically at the end."""

    def __init__(self, path: Path) -> None:
        self.path, self.data = path, None

    def write(self, frame: Frame, image: np.ndarray) -> None:
        if self.data is not None:
            raise ConfigError("--out is one image but the source has several frames", file=self.path, entry="--out",
                              hint="give a folder or a video file (.mp4, .avi)")
        ok, buf = cv2.imencode(self.path.suffix, image)
        self.data = buf.tobytes() if ok else _fail(self.path, frame.name)

    def commit(self) -> None:
        if self.data is None:
            raise DataError("no frames to write", file=self.path)
        write_bytes(self.path, self.data)

    def abort(self) -> None:
        self.data = None


Sink = VideoSink | FolderSink | ImageSink


def _fail(path: Path, name: str) -> Any:
    raise DataError(f"cannot encode image '{name}'", file=path, entry="--out")


def open_sink(out: str | Path, source: FrameSource) -> Sink:
    """A sink chosen by ``out``'s suffix: a video file, an image file, or else a folder."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoSink(path, source.fps)
    if suffix in IMAGE_SUFFIXES:
        if source.count != 1:
            raise ConfigError(f"--out is one image but the source is a {source.kind}", file=path, entry="--out",
                              hint="give a folder or a video file (.mp4, .avi)")
        return ImageSink(path)
    if path.exists() and not path.is_dir():
        raise ConfigError("exists and is not a folder; use an image/video suffix or a folder", file=path, entry="--out")
    return FolderSink(path)


# ----------------------------------------------------------------------------- display
def check_display() -> None:
    """``--show`` needs a window system: a clear error instead of OpenCV's crash without one."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError("--show needs a display, and none is available (DISPLAY is not set)", entry="--show",
                          hint="drop --show and write the result with --out")


class Window:
    """An OpenCV window; ``show`` returns False once the user pressed q or Esc."""

    name = "pose"

    def show(self, image: np.ndarray) -> bool:
        try:
            cv2.imshow(self.name, image)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as e:
            raise ConfigError(f"cannot open a window ({' '.join(str(e).split())[:100]})", entry="--show",
                              hint="OpenCV has no GUI support here; drop --show and use --out") from None
        return key not in (ord("q"), 27)

    def close(self) -> None:
        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.name)


# ----------------------------------------------------------------------------- loop
Step = Callable[[list[Frame]], list[np.ndarray]]


def stream(source: FrameSource, step: Step, *, out: str | Path | None = None, show: bool = False, batch_size: int = 8,
           progress: bool = True, console: Console | None = None, timings: dict[str, float] | None = None) -> int:
    """Feed ``source`` to ``step`` in batches of frames; write and/or show what it draws.

    Returns the number of frames processed. Any error (or Ctrl-C on a file source) removes the
    partial output; on a webcam, Ctrl-C or q ends the stream and keeps what was recorded.
    ``timings`` (seconds) gains ``decode`` and ``encode``.
    """
    if batch_size < 1:
        raise ConfigError(f"must be >= 1, got {batch_size}", entry="--batch-size")
    if show:
        check_display()
    t = timings if timings is not None else {}
    sink = open_sink(out, source) if out is not None else None
    window = Window() if show else None
    console = console or Console(stderr=True)
    columns = (TextColumn(f"infer {Path(source.path).name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    done = 0
    try:
        with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
            task = bar.add_task("infer", total=source.count)
            frames = batches(source, batch_size)
            while True:
                t0 = time.perf_counter()
                batch = next(frames, None)
                t["decode"] = t.get("decode", 0.0) + time.perf_counter() - t0
                if batch is None:
                    break
                drawn = step(batch)
                t0 = time.perf_counter()
                for frame, image in zip(batch, drawn):
                    if sink is not None:
                        sink.write(frame, image)
                t["encode"] = t.get("encode", 0.0) + time.perf_counter() - t0
                done += len(batch)
                bar.advance(task, len(batch))
                if window is not None and not all(window.show(image) for image in drawn):
                    break
    except KeyboardInterrupt:
        if not source.live:
            if sink is not None:
                sink.abort()
            raise
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        source.close()
        if window is not None:
            window.close()
    if sink is not None:
        sink.commit()
    return done
