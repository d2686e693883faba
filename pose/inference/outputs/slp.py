"""SLEAP predictions ``.slp`` written with sleap-io: the skeleton (nodes and edges of the meta),
the video, one ``PredictedInstance`` per found instance with its point scores and instance score
(mean keypoint score), and a ``Track`` per track id (``track_0``, ...) when the results are tracked.
Frames where nothing was found get no labelled frame, as in SLEAP's own prediction files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sleap_io as sio

from pose.fileio import atomic_path
from pose.inference.outputs.results import VideoResults, track_name


def skeleton(results: VideoResults) -> sio.Skeleton:
    meta = results.meta
    edges = [(meta.keypoint_names[a], meta.keypoint_names[b]) for a, b in meta.skeleton.tolist()]
    return sio.Skeleton(nodes=list(meta.keypoint_names), edges=edges, name=meta.name)


def to_labels(results: VideoResults) -> sio.Labels:
    """The results as a sleap-io ``Labels`` object (predictions only)."""
    skel = skeleton(results)
    w, h = results.frame_size
    video = sio.Video(filename=str(Path(results.source).resolve()), open_backend=False,
                      backend_metadata={"shape": (results.num_frames, h, w, 3), "fps": results.fps})
    tracks = {t: sio.Track(name=track_name(t)) for t in results.track_ids()} if results.tracked else {}
    frames = []
    for index, frame in enumerate(results.frames):
        if not len(frame):
            continue
        ids = frame.track_ids if frame.track_ids is not None else [None] * len(frame)
        instances = [sio.PredictedInstance.from_numpy(frame.keypoints[j].astype(np.float64), skeleton=skel,
                                                      point_scores=frame.keypoint_scores[j].astype(np.float64),
                                                      score=float(frame.keypoint_scores[j].mean()),
                                                      track=None if t is None else tracks[int(t)])
                     for j, t in enumerate(ids)]
        frames.append(sio.LabeledFrame(video=video, frame_idx=index, instances=instances))
    return sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skel], tracks=list(tracks.values()))


def write_slp(results: VideoResults, path: str | Path) -> Path:
    """Write ``path`` (``.slp``) through a temp file in the same folder."""
    path = Path(path)
    labels = to_labels(results)
    with atomic_path(path) as tmp:
        sio.save_slp(labels, str(tmp), embed=False, verbose=False)
    return path
