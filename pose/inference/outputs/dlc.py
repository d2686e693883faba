"""DeepLabCut analysis files: ``<video>DLC_<model>.h5`` and ``.csv``, as DLC's ``analyze_videos`` writes.

Columns are DLC's multi-index (scorer / bodyparts / coords x, y, likelihood; with an
``individuals`` level between scorer and bodyparts when several animals are tracked), one row per
frame (index 0..F-1), NaN where nothing was found. The HDF5 file is a pandas table under key
``df_with_missing`` (PyTables), so ``pd.read_hdf(path)`` and
``pd.read_csv(path, header=[0, 1, 2], index_col=0)`` (``[0, 1, 2, 3]`` tracked) load them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pose.fileio import atomic_path
from pose.inference.outputs.results import VideoResults

HDF_KEY = "df_with_missing"
COORDS = ("x", "y", "likelihood")


def scorer(results: VideoResults) -> str:
    """DLC's scorer name for a model: ``DLC_<model file stem>``."""
    return f"DLC_{results.model_name}"


def dlc_paths(results: VideoResults, folder: str | Path) -> tuple[Path, Path]:
    """``(h5, csv)`` paths in ``folder``, named as DLC names them: ``<video stem>DLC_<model>``."""
    stem = f"{Path(results.source).stem}{scorer(results)}"
    return Path(folder) / f"{stem}.h5", Path(folder) / f"{stem}.csv"


def dlc_frame(results: VideoResults) -> pd.DataFrame:
    """The analysis table: one row per frame, DLC's column levels, float64."""
    ident = results.identities()
    names = results.meta.keypoint_names
    data = np.concatenate([ident.keypoints, ident.scores[..., None]], axis=3)  # (T, F, K, 3)
    table = data.transpose(1, 0, 2, 3).reshape(results.num_frames, -1)
    if results.multi:
        columns = pd.MultiIndex.from_product([[scorer(results)], ident.names(), names, COORDS],
                                             names=["scorer", "individuals", "bodyparts", "coords"])
    else:
        columns = pd.MultiIndex.from_product([[scorer(results)], names, COORDS], names=["scorer", "bodyparts", "coords"])
    return pd.DataFrame(table, columns=columns, index=pd.RangeIndex(results.num_frames))


def write_dlc(results: VideoResults, folder: str | Path) -> tuple[Path, Path]:
    """Write the ``.h5`` and ``.csv`` into ``folder``; both go to temp files first and are renamed
    only once both are complete. Returns their paths."""
    h5, csv = dlc_paths(results, folder)
    frame = dlc_frame(results)
    with atomic_path(h5) as tmp_h5, atomic_path(csv) as tmp_csv:
        frame.to_hdf(tmp_h5, key=HDF_KEY, format="table", mode="w")
        frame.to_csv(tmp_csv)
    return h5, csv
