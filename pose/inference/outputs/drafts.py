"""Draft labels for frames to correct: the frames as PNG files with the model's predictions, in a
labelling tool's own format, so the user opens them in that tool, fixes them and adds them to the
project.

- ``dlc``: ``labeled-data/<video stem>/img<NNNN>.png`` (DeepLabCut's frame names: the frame index
  zero-padded to ``ceil(log10(frames in the video))`` digits, as ``deeplabcut.extract_frames``
  names them) and ``CollectedData_<scorer>.csv`` / ``.h5`` in DeepLabCut's layout: column levels
  scorer / bodyparts / coords (x, y), one row per frame indexed by its path
  ``labeled-data/<video stem>/img<NNNN>.png`` (DeepLabCut reads this index and its newer
  three-level one alike), NaN for points left to place; the ``.h5`` is the same table under key
  ``df_with_missing`` (pandas "table" format).
- ``labelme``: ``<video stem>/img<NNNN>.png`` with ``img<NNNN>.json`` beside each (labelme 5
  point shapes, label = keypoint name).

Points whose score is below ``kpt_thr`` (and frames where nothing was found) are left unlabelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pose.errors import DataError
from pose.fileio import write_json

LABELED_DATA = "labeled-data"
HDF_KEY = "df_with_missing"
LABELME_VERSION = "5.5.0"


@dataclass
class Drafts:
    """Frames and their predictions: ``keypoints`` (N, K, 2) and ``scores`` (N, K) per frame of ``frames``."""

    video: str
    frame_count: int  # frames in the whole video (sets the digits of the names)
    frames: list[int]
    images: dict[int, np.ndarray]  # frame index -> BGR image
    keypoint_names: list[str]
    keypoints: np.ndarray
    scores: np.ndarray
    kpt_thr: float = 0.0

    @property
    def stem(self) -> str:
        return Path(self.video).stem

    def image_name(self, frame: int) -> str:
        digits = max(1, math.ceil(math.log10(max(self.frame_count, 2))))
        return f"img{frame:0{digits}d}.png"

    def labelled(self) -> np.ndarray:
        """(N, K, 2) draft points, NaN where left to the user."""
        keep = np.nan_to_num(self.scores, nan=-1.0) >= self.kpt_thr
        return np.where(keep[..., None], self.keypoints, np.nan)


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):
        raise DataError("cannot write the frame image", file=path)


def dlc_table(drafts: Drafts, scorer: str) -> pd.DataFrame:
    """DeepLabCut's CollectedData table of the drafts."""
    columns = pd.MultiIndex.from_product([[scorer], drafts.keypoint_names, ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    index = [f"{LABELED_DATA}/{drafts.stem}/{drafts.image_name(f)}" for f in drafts.frames]
    values = drafts.labelled().reshape(len(drafts.frames), -1).astype(np.float64)
    return pd.DataFrame(values, columns=columns, index=index)


def write_dlc_drafts(drafts: Drafts, folder: Path, scorer: str) -> list[Path]:
    """Frames + CollectedData_<scorer>.csv/.h5 under ``folder/labeled-data/<stem>/``; returns the label files.
    ``folder`` is expected to be a fresh temp folder (the caller renames it into place)."""
    out = folder / LABELED_DATA / drafts.stem
    out.mkdir(parents=True, exist_ok=True)
    for f in drafts.frames:
        _write_png(out / drafts.image_name(f), drafts.images[f])
    table = dlc_table(drafts, scorer)
    csv, h5 = out / f"CollectedData_{scorer}.csv", out / f"CollectedData_{scorer}.h5"
    table.to_csv(csv)
    table.to_hdf(h5, key=HDF_KEY, format="table", mode="w")
    return [csv, h5]


def labelme_shapes(names: list[str], points: np.ndarray) -> list[dict[str, object]]:
    """One labelme point shape per labelled keypoint of (K, 2) ``points``."""
    return [{"label": name, "points": [[float(x), float(y)]], "group_id": None, "description": "", "shape_type": "point",
             "flags": {}, "mask": None}
            for name, (x, y) in zip(names, points) if not (np.isnan(x) or np.isnan(y))]


def write_labelme_drafts(drafts: Drafts, folder: Path) -> list[Path]:
    """``folder/<stem>/img<NNNN>.png`` + ``.json`` per frame; returns the JSON files."""
    out = folder / drafts.stem
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f, points in zip(drafts.frames, drafts.labelled()):
        name = drafts.image_name(f)
        image = drafts.images[f]
        _write_png(out / name, image)
        doc = {"version": LABELME_VERSION, "flags": {}, "shapes": labelme_shapes(drafts.keypoint_names, points),
               "imagePath": name, "imageData": None, "imageHeight": int(image.shape[0]), "imageWidth": int(image.shape[1])}
        write_json(out / f"{Path(name).stem}.json", doc, indent=2)
        written.append(out / f"{Path(name).stem}.json")
    return written
