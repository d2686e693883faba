"""``pose data outliers``: the frames of a video a model is least sure about, to label next.

One pass of ``pose infer``'s video analysis (``run_infer`` with a frame callback, no drawing)
collects each frame's most confident instance; every frame then gets an outlier score
(DeepLabCut's ``extract_outlier_frames`` 'uncertain' + 'jump', SLEAP's prediction-score
suggestions):

- uncertainty = 1 - mean keypoint score (1 where nothing was found);
- jump = the largest keypoint displacement since the previous frame, in units of the animal's
  typical size (the video's median keypoint-box diagonal), divided by ``jump_scale`` and clipped
  at 1 (so a jump of ``jump_scale`` sizes or more counts fully);
- score = uncertainty + ``jump_weight`` * jump.

``pick_frames`` takes the ``num`` highest scores at least ``min_gap`` frames apart (no
near-duplicates; the default gap spreads the picks over the video). A second, decode-only pass
reads the picked frames (sequential decoding, exact where seeking is not). The writers in
``pose.inference.outputs.drafts`` put them with the predictions as draft labels.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from pose.errors import ConfigError, DataError
from pose.fileio import atomic_dir, write_json
from pose.inference.api import FrameResult
from pose.inference.infer import InferOptions, run_infer
from pose.inference.video import Frame, FrameSource, open_source

FORMATS = ("dlc", "labelme")


@dataclass(frozen=True)
class OutlierOptions:
    """How frames are scored and picked (the CLI flag each fills in brackets)."""

    num: int = 20  # [--num] frames to pick
    min_gap: int | None = None  # [--min-gap] least frame distance between picks; None: frames // (2 * num)
    start: float = 0.0  # [--start] fraction of the video where scoring starts (DLC's config 'start')
    stop: float = 1.0  # [--stop] fraction where it stops (DLC's 'stop')
    jump_weight: float = 1.0  # [--jump-weight] weight of the jump term (0: scores only)
    jump_scale: float = 0.5  # [--jump-scale] jump, in animal sizes, that counts fully

    def check(self) -> None:
        if self.num < 1:
            raise ConfigError(f"must be >= 1, got {self.num}", entry="--num")
        if self.min_gap is not None and self.min_gap < 1:
            raise ConfigError(f"must be >= 1, got {self.min_gap}", entry="--min-gap")
        if not 0.0 <= self.start < self.stop <= 1.0:
            raise ConfigError(f"need 0 <= start < stop <= 1, got {self.start}, {self.stop}", entry="--start/--stop")
        if self.jump_weight < 0 or self.jump_scale <= 0:
            raise ConfigError(f"need jump weight >= 0 and scale > 0, got {self.jump_weight}, {self.jump_scale}",
                              entry="--jump-weight/--jump-scale")


@dataclass
class FrameScores:
    """Per analysed frame (F,): its video frame index and the score terms."""

    frames: np.ndarray  # (F,) int64 video frame indices
    uncertainty: np.ndarray  # (F,) in [0, 1]
    jump: np.ndarray  # (F,) in [0, 1]
    total: np.ndarray  # (F,)


def score_frames(keypoints: np.ndarray, scores: np.ndarray, frames: np.ndarray, *, jump_weight: float = 1.0,
                 jump_scale: float = 0.5) -> FrameScores:
    """Scores of (F, K, 2) keypoints and (F, K) keypoint scores (NaN rows: nothing found)."""
    found = ~np.isnan(scores).all(axis=1)
    uncertainty = np.where(found, 1.0 - np.nan_to_num(np.nanmean(np.where(found[:, None], scores, 0.0), axis=1)), 1.0)
    uncertainty = np.clip(uncertainty, 0.0, 1.0)
    size = typical_size(keypoints[found])
    jump = np.zeros(len(scores))
    if len(scores) > 1:
        step = np.linalg.norm(keypoints[1:] - keypoints[:-1], axis=2)  # (F-1, K), NaN where a frame has nothing
        moved = np.where(np.isnan(step).all(axis=1), 0.0, np.nanmax(np.nan_to_num(step, nan=0.0), axis=1))
        contiguous = np.diff(frames) == 1
        jump[1:] = np.where(contiguous, np.clip(moved / size / jump_scale, 0.0, 1.0), 0.0)
    return FrameScores(np.asarray(frames, np.int64), uncertainty, jump, uncertainty + jump_weight * jump)


def typical_size(keypoints: np.ndarray) -> float:
    """Median diagonal of the keypoint boxes of (N, K, 2) found instances; 1 when none or degenerate."""
    if not len(keypoints):
        return 1.0
    extent = keypoints.max(axis=1) - keypoints.min(axis=1)
    size = float(np.median(np.hypot(extent[:, 0], extent[:, 1])))
    return size if size > 0 else 1.0


def pick_frames(total: np.ndarray, num: int, min_gap: int) -> list[int]:
    """Positions of the ``num`` highest ``total`` at least ``min_gap`` apart (greedy, ties: earlier first)."""
    blocked = np.zeros(len(total), bool)
    picked: list[int] = []
    for i in np.argsort(-np.asarray(total), kind="stable"):
        if blocked[i]:
            continue
        picked.append(int(i))
        blocked[max(0, i - min_gap + 1): i + min_gap] = True
        if len(picked) == num:
            break
    return sorted(picked)


def default_gap(frames: int, num: int) -> int:
    """Half the even spacing: greedy picking then always finds ``num`` frames when ``frames >= num``."""
    return max(1, frames // (2 * num))


def frame_range(count: int | None, start: float, stop: float) -> range:
    """Video frame indices ``[start * count, stop * count)`` (the whole stream when the count is unknown)."""
    if count is None:
        return range(0, 2**62)
    return range(int(math.floor(start * count)), max(int(math.floor(start * count)) + 1, int(math.ceil(stop * count))))


def clipped(source: FrameSource, frames: range) -> FrameSource:
    """``source`` restricted to ``frames`` (decoding stops after the last one)."""
    def gen() -> Iterator[Frame]:
        for frame in itertools.islice(source, frames.stop):
            if frame.index >= frames.start:
                yield frame

    count = None if source.count is None else max(0, min(source.count, frames.stop) - frames.start)
    return FrameSource(source.kind, source.path, source.fps, count, gen(), source.close)


@dataclass
class Outliers:
    """What one scan found: the best instance per analysed frame, the scores and the picked frames."""

    video: str
    keypoint_names: list[str]
    keypoints: np.ndarray  # (F, K, 2) each analysed frame's most confident instance, NaN where none
    keypoint_scores: np.ndarray  # (F, K)
    scores: FrameScores
    picked: list[int]  # video frame indices, ascending
    min_gap: int
    frame_count: int | None  # frames in the whole video
    frame_size: tuple[int, int]  # (w, h)

    def prediction(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(K, 2) keypoints and (K,) scores predicted on video frame ``frame``."""
        row = int(np.searchsorted(self.scores.frames, frame))
        return self.keypoints[row], self.keypoint_scores[row]


class _Best:
    """Frame callback: keeps each frame's most confident instance (as the single-animal lab files do)."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.keypoints: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.size = (0, 0)

    def __call__(self, frame: Frame, result: FrameResult) -> None:
        k = result.keypoints.shape[1]
        if len(result):
            best = int(np.argmax(result.keypoint_scores.mean(axis=1)))
            kpts, scores = result.keypoints[best].astype(np.float64), result.keypoint_scores[best].astype(np.float64)
        else:
            kpts, scores = np.full((k, 2), np.nan), np.full(k, np.nan)
        self.frames.append(frame.index)
        self.keypoints.append(kpts)
        self.scores.append(scores)
        self.size = result.image_size


def scan_video(video: str | Path, infer: InferOptions, options: OutlierOptions, *,
               console: Console | None = None) -> Outliers:
    """Run the model over ``video`` (``pose infer``'s video path, progress bar included), score
    every frame and pick the outliers. A file that is not a readable video is one ``DataError``."""
    options.check()
    infer.check(observed=True)
    source = open_source(Path(video))
    if source.kind != "video":
        source.close()
        raise DataError(f"not a video file (a {source.kind})", file=video, hint="give a video (.mp4, .avi, ...)")
    best = _Best()
    summary = run_infer(clipped(source, frame_range(source.count, options.start, options.stop)), infer, console=console,
                        callbacks=[best])
    if not best.frames:
        raise DataError("no frames in the asked range", file=video, entry="--start/--stop")
    kpts, kscores, frames = np.stack(best.keypoints), np.stack(best.scores), np.asarray(best.frames)
    scores = score_frames(kpts, kscores, frames, jump_weight=options.jump_weight, jump_scale=options.jump_scale)
    gap = options.min_gap or default_gap(len(frames), options.num)
    picked = [int(frames[i]) for i in pick_frames(scores.total, options.num, gap)]
    return Outliers(str(video), list(summary["keypoint_names"]), kpts, kscores, scores, picked, gap, source.count, best.size)


def read_frames(video: str | Path, frames: list[int]) -> dict[int, np.ndarray]:
    """The BGR images of ``frames`` (video indices), decoded in order up to the last one."""
    wanted, images = set(frames), {}
    source = open_source(Path(video))
    try:
        for frame in itertools.islice(source, max(frames) + 1):
            if frame.index in wanted:
                images[frame.index] = frame.image
    finally:
        source.close()
    missing = sorted(wanted - set(images))
    if missing:
        raise DataError(f"frame {missing[0]} could not be decoded on the second pass", file=video)
    return images


@dataclass(frozen=True)
class DraftOptions:
    """Where and how the picked frames are written (CLI flags in brackets)."""

    out: Path  # [--out] a new (or empty) folder
    format: str = "dlc"  # [--format] dlc | labelme
    scorer: str = "posepipe"  # [--scorer] DLC's CollectedData_<scorer>: the project's config.yaml 'scorer'
    kpt_thr: float = 0.0  # [--kpt-thr] points scored lower are left for the user to place
    force: bool = False  # [--force] replace a non-empty --out

    def check(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"unknown format '{self.format}' (choose {' | '.join(FORMATS)})", entry="--format")
        if not 0.0 <= self.kpt_thr <= 1.0:
            raise ConfigError(f"must be in [0, 1], got {self.kpt_thr}", entry="--kpt-thr")
        if not self.scorer or any(c in self.scorer for c in "/\\"):
            raise ConfigError(f"not a usable scorer name: {self.scorer!r}", entry="--scorer")
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError("exists and is not a folder", file=out, entry="--out")
        if out.is_dir() and any(out.iterdir()) and not self.force:
            raise ConfigError("folder exists and is not empty", file=out, entry="--out", hint="pick a new folder or pass --force")


def report(found: Outliers, drafts: DraftOptions, written: list[Path]) -> dict[str, object]:
    """``outliers.json``: what was scanned, the picks with their score terms, every frame's score."""
    s = found.scores
    row = {int(f): i for i, f in enumerate(s.frames)}
    picks = [{"frame": f, "score": float(s.total[row[f]]), "uncertainty": float(s.uncertainty[row[f]]),
              "jump": float(s.jump[row[f]])} for f in found.picked]
    return {"video": found.video, "format": drafts.format, "frames_in_video": found.frame_count,
            "frames_scored": [int(s.frames[0]), int(s.frames[-1]) + 1], "min_gap": found.min_gap,
            "files": [str(p.relative_to(drafts.out)) for p in written], "picked": picks,
            "scores": [float(v) for v in s.total]}  # exact: ties and order as picked


def write_outliers(found: Outliers, drafts: DraftOptions) -> dict[str, object]:
    """Decode the picked frames and write them with their predictions as drafts; all or nothing
    (built in a temp folder beside ``--out``, renamed into place). Returns the report."""
    from pose.inference.outputs.drafts import Drafts, write_dlc_drafts, write_labelme_drafts

    drafts.check()
    rows = [found.prediction(f) for f in found.picked]
    d = Drafts(found.video, found.frame_count or (max(found.picked) + 1), found.picked, read_frames(found.video, found.picked),
               found.keypoint_names, np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]), drafts.kpt_thr)
    with atomic_dir(drafts.out) as tmp:
        files = write_dlc_drafts(d, tmp, drafts.scorer) if drafts.format == "dlc" else write_labelme_drafts(d, tmp)
        doc = report(found, drafts, [drafts.out / p.relative_to(tmp) for p in files])
        write_json(tmp / "outliers.json", doc, indent=1)
    return doc
