"""Per-frame video results built without a model, for the output writer tests: three animals over
six frames, some missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose.data.meta import DatasetMeta, load_meta
from pose.inference.api import FrameResult
from pose.inference.outputs.results import VideoResults

#: Frame index -> track ids present (frame 2: nothing found; frame 4: track 2 appears).
PRESENT = [[0, 1], [1, 0], [], [0], [2, 0, 1], [1]]


def frame_result(meta: DatasetMeta, ids: list[int], rng: np.random.Generator, tracked: bool) -> FrameResult:
    n, k = len(ids), meta.num_keypoints
    kpts = rng.uniform(0, 60, (n, k, 2)).astype(np.float32)
    boxes = np.concatenate([kpts.min(1), kpts.max(1) + 1], axis=1).astype(np.float32) if n else np.zeros((0, 4), np.float32)
    return FrameResult((64, 48), boxes, np.ones(n, np.float32), kpts, rng.uniform(0.05, 1, (n, k)).astype(np.float32),
                       track_ids=np.array(ids, np.int64) if tracked else None)


def make_results(tmp_path: Path, tracked: bool) -> VideoResults:
    rng = np.random.default_rng(3)
    meta = load_meta("coco")
    frames = [frame_result(meta, ids, rng, tracked) for ids in PRESENT]
    return VideoResults(str(tmp_path / "mouse cam1.mp4"), str(tmp_path / "r18-best.pth"), meta, 30.0, (64, 48), frames)


def leftovers(folder: Path) -> list[str]:
    """Temp files a writer may have left (names starting with a dot)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
