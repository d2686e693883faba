"""NWB file of the results via ndx-pose: a ``behavior`` processing module with the skeleton
(``Skeletons``) and one ``PoseEstimation`` per track (``PoseEstimation`` alone when untracked),
each with one ``PoseEstimationSeries`` per keypoint: (x, y) in pixels, per-keypoint confidence,
and timestamps in seconds from the first frame (frame index / fps; shared by every series).
NaN where the animal was not found. The video is linked as an external ``ImageSeries``.

``pynwb`` and ``ndx_pose`` take seconds to import: this module is imported only for ``--save-nwb``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from pathlib import Path

import numpy as np
from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
from pynwb import NWBHDF5IO, NWBFile
from pynwb.image import ImageSeries

from pose.fileio import atomic_path
from pose.inference.outputs.results import UNTRACKED, VideoResults, track_name

REFERENCE_FRAME = "(0, 0) is the top-left corner of the video frame; x to the right, y down, in pixels"
CONFIDENCE = "the pose model's keypoint score (heatmap peak or SimCC maximum), in [0, 1]"


def _session_start(source: Path) -> dt.datetime:
    """NWB needs a session start: the video file's modification time (no better clock is known)."""
    stamp = source.stat().st_mtime if source.exists() else dt.datetime.now(dt.timezone.utc).timestamp()
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)


def _skeleton(results: VideoResults) -> Skeleton:
    """ndx-pose stores edges as uint8 node indices (at most 256 keypoints)."""
    meta = results.meta
    return Skeleton(name=meta.name or "skeleton", nodes=list(meta.keypoint_names),
                    edges=np.asarray(meta.skeleton, dtype=np.uint8).reshape(-1, 2))


def _series(results: VideoResults, kpts: np.ndarray, scores: np.ndarray, timestamps: np.ndarray) -> list[PoseEstimationSeries]:
    """One series per keypoint of one identity ((F, K, 2) points, (F, K) scores)."""
    series: list[PoseEstimationSeries] = []
    for k, name in enumerate(results.meta.keypoint_names):
        series.append(PoseEstimationSeries(name=name, description=f"estimated position of {name}", data=kpts[:, k], unit="pixels",
                                           reference_frame=REFERENCE_FRAME, confidence=scores[:, k],
                                           confidence_definition=CONFIDENCE,
                                           timestamps=timestamps if not series else series[0]))
    return series


def to_nwbfile(results: VideoResults) -> NWBFile:
    """The results as an in-memory ``NWBFile``."""
    source = Path(results.source)
    nwb = NWBFile(session_description=f"pose estimation of {source.name} by posepipe", identifier=str(uuid.uuid4()),
                  session_start_time=_session_start(source))
    camera = nwb.create_device(name="camera", description=f"camera that recorded {source.name}")
    w, h = results.frame_size
    video = ImageSeries(name="video", description=f"the analysed video {source.name}", external_file=[str(source)],
                        format="external", starting_frame=[0], rate=float(results.fps), num_samples=results.num_frames,
                        dimension=[w, h], device=camera)
    nwb.add_acquisition(video)
    behavior = nwb.create_processing_module(name="behavior", description="pose estimates per frame")
    skeleton = _skeleton(results)
    behavior.add(Skeletons(skeletons=[skeleton]))
    ident, times = results.identities(), results.timestamps()
    for row, tid in enumerate(ident.ids):
        name = "PoseEstimation" if tid == UNTRACKED else f"PoseEstimation_{track_name(tid)}"
        behavior.add(PoseEstimation(
            name=name, pose_estimation_series=_series(results, ident.keypoints[row], ident.scores[row], times),
            description=f"{'the animal' if tid == UNTRACKED else track_name(tid)}: keypoints of '{results.meta.name}' "
                        f"from {Path(results.model).name}",
            scorer=results.model_name, source_software="posepipe", skeleton=skeleton, device=camera, source_video=video))
    return nwb


def write_nwb(results: VideoResults, path: str | Path) -> Path:
    """Write ``path`` (``.nwb``) through a temp file in the same folder."""
    path = Path(path)
    nwb = to_nwbfile(results)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")  # the temp file's name
        with NWBHDF5IO(str(tmp), mode="w") as io:
            io.write(nwb)
    return path
