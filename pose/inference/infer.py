"""``pose infer``: detector + top-down pose on images, folders, videos or a webcam, drawn, saved,
shown and timed. The CLI command is a thin wrapper around ``run_infer``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from pose.errors import ConfigError
from pose.fileio import write_json
from pose.inference.api import FrameResult, PoseModel, detect, detector_classes, estimate_frames, load_detector, load_pose_model
from pose.inference.video import Frame, open_source, stream
from pose.inference.visualize import draw_result

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "crop", "pose", "draw", "encode")
FrameCallback = Callable[[Frame, FrameResult], None]


def _threshold(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"must be in [0, 1], got {value}", entry=name)
    return float(value)


def detect_and_estimate(pose: PoseModel, detector: Any, classes: list[int] | None, images: list[np.ndarray], *,
                        bbox_thr: float = 0.3, nms_thr: float = 0.3, batch_size: int = 64, heatmaps: bool = False,
                        timings: dict[str, float] | None = None) -> list[FrameResult]:
    """Detector boxes (``None`` detector: whole images), then pose on each: what ``pose infer`` and
    the registered image -> keypoints pyfunc compute per image. ``timings`` gains detect/crop/pose."""
    t = timings if timings is not None else {}
    boxes: list[np.ndarray | None] = [None] * len(images)
    scores: list[np.ndarray | None] = [None] * len(images)
    if detector is not None:
        t0 = time.perf_counter()
        dets = detect(detector, images, score_thr=bbox_thr, nms_thr=nms_thr, classes=classes, batch_size=len(images))
        t["detect"] = t.get("detect", 0.0) + time.perf_counter() - t0
        for i, (b, s, _) in enumerate(dets):
            keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
            boxes[i], scores[i] = b[keep], s[keep]
    return estimate_frames(pose, images, boxes, box_scores=scores, batch_size=batch_size, heatmaps=heatmaps, timings=t)


def _check_args(bbox_thr: float, kpt_thr: float, nms_thr: float, radius: int, thickness: int, has_detector: bool,
                full_frame: bool, has_output: bool) -> None:
    """The option checks of ``run_infer``, before any model is loaded."""
    for name, v in (("--bbox-thr", bbox_thr), ("--kpt-thr", kpt_thr), ("--nms-thr", nms_thr)):
        _threshold(name, v)
    if radius < 1 or thickness < 1:
        raise ConfigError(f"must be >= 1, got radius {radius}, thickness {thickness}", entry="--radius/--thickness")
    if has_detector == full_frame:
        raise ConfigError("give a detector (--det-model) or --full-frame (the whole image is one instance), not both"
                          if has_detector else "give a detector with --det-model, or --full-frame", entry="--det-model")
    if not has_output:
        raise ConfigError("nothing to do: give --out, --save-json and/or --show", entry="--out")


def _summary(source: Any, n: int, instances: int, seconds: float, timings: dict[str, float], *, out: str | Path | None,
             save_json: str | Path | None, pose_source: str, det_model: str | Path | None) -> dict[str, Any]:
    """``run_infer``'s result: counts, fps and ms per frame per stage; logged as one line."""
    fps = n / seconds if seconds > 0 else 0.0
    summary = {"source": source.path, "kind": source.kind, "frames": n, "instances": instances, "seconds": round(seconds, 3),
               "fps": round(fps, 2), "ms_per_frame": {s: round(1000 * timings[s] / max(n, 1), 2) for s in STAGES},
               "out": None if out is None else str(out), "json": None if save_json is None else str(save_json),
               "pose_model": pose_source, "det_model": None if det_model is None else str(det_model)}
    stages = ", ".join(f"{s} {v:.1f}" for s, v in summary["ms_per_frame"].items())
    log.info("%d frames, %d instances in %.2f s: %.1f fps (ms/frame: %s)", n, instances, seconds, fps, stages)
    return summary


def _load_models(pose_model: str | Path, det_model: str | Path | None, *, device: str, draw_heatmap: bool) -> tuple[Any, Any, Any]:
    """The pose model, and the detector with the class ids that keep the pose model's category."""
    pose = load_pose_model(pose_model, device=device)
    if draw_heatmap and not pose.has_heatmaps:
        raise ConfigError(f"{pose.source} gives no heatmaps (a regression model)", entry="--draw-heatmap")
    detector, classes = None, None
    if det_model is not None:
        detector, info = load_detector(det_model, device=device)
        classes = detector_classes(info, pose.meta)
        if classes is None:
            log.warning("detector classes %s include none named '%s': keeping all", info.class_names, pose.meta.category)
    return pose, detector, classes


def run_infer(
    src: str | Path | int,
    *,
    det_model: str | Path | None = None,
    pose_model: str | Path,
    bbox_thr: float = 0.3,
    kpt_thr: float = 0.3,
    nms_thr: float = 0.3,
    radius: int = 3,
    thickness: int = 2,
    draw_bbox: bool = False,
    draw_heatmap: bool = False,
    show_kpt_idx: bool = False,
    show: bool = False,
    out: str | Path | None = None,
    save_json: str | Path | None = None,
    device: str = "auto",
    batch_size: int = 8,
    full_frame: bool = False,
    pose_batch_size: int = 64,
    progress: bool = True,
    console: Console | None = None,
    callbacks: list[FrameCallback] | None = None,
) -> dict[str, Any]:
    """Detection (or whole frames) + pose on ``src``, ``batch_size`` frames at a time (crops in chunks of
    ``pose_batch_size``); ``callbacks`` see each frame and its result. Returns fps and ms per frame per stage."""
    _check_args(bbox_thr, kpt_thr, nms_thr, radius, thickness, det_model is not None, full_frame,
                has_output=out is not None or show or save_json is not None)
    console = console or Console(stderr=True)
    pose, detector, classes = _load_models(pose_model, det_model, device=device, draw_heatmap=draw_heatmap)
    source = open_source(src)
    timings: dict[str, float] = {s: 0.0 for s in STAGES}
    frames_meta: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    counts = {"instances": 0}

    def step(batch: list[Frame]) -> list[np.ndarray]:
        frames = detect_and_estimate(pose, detector, classes, [f.image for f in batch], bbox_thr=bbox_thr, nms_thr=nms_thr,
                                     batch_size=pose_batch_size, heatmaps=draw_heatmap, timings=timings)
        t0 = time.perf_counter()
        drawn = [draw_result(f.image, r, pose.meta, kpt_thr=kpt_thr, radius=radius, thickness=thickness, draw_bbox=draw_bbox,
                             draw_heatmap=draw_heatmap, show_kpt_idx=show_kpt_idx) for f, r in zip(batch, frames)] if out or show else []
        timings["draw"] += time.perf_counter() - t0
        for f, r in zip(batch, frames):
            counts["instances"] += len(r)
            if save_json is not None:
                frames_meta.append({"id": f.index, "name": f.name, "width": r.image_size[0], "height": r.image_size[1]})
                results.extend(r.to_coco(f.index))
            for cb in callbacks or ():
                cb(f, r)
        return drawn

    start = time.perf_counter()
    n = stream(source, step, out=out, show=show, batch_size=batch_size, progress=progress, console=console, timings=timings)
    seconds = time.perf_counter() - start
    if save_json is not None:
        write_json(save_json, {"source": source.path, "model": pose.source, "meta": pose.meta.to_dict(), "images": frames_meta,
                               "results": results})
    return _summary(source, n, counts["instances"], seconds, timings, out=out, save_json=save_json,
                    pose_source=pose.source, det_model=det_model)

