"""``pose infer``: detector + top-down pose on images, folders, videos or a webcam, drawn, saved,
shown and timed. The CLI fills an ``InferOptions`` and calls ``run_infer``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from pose.errors import ConfigError
from pose.fileio import write_json
from pose.inference.analysis import AnalysisOptions, VideoAnalysis
from pose.inference.api import FrameResult, PoseModel, detect, detector_classes, estimate_frames, load_detector, load_pose_model
from pose.inference.follow import BoxFollower
from pose.inference.video import Frame, FrameSource, open_source, stream
from pose.inference.visualize import DrawOptions, draw_result

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "crop", "pose", "draw", "encode")
FrameCallback = Callable[[Frame, FrameResult], None]


@dataclass(frozen=True)
class InferOptions:
    """What ``pose infer`` runs: the models (a detector; ``full_frame``: the whole frame is one box;
    or ``follow``: one animal, the box of the previous frame's keypoints padded by ``follow_pad``,
    the whole frame again when their mean score is under ``follow_thr``; ``pose.inference.follow``),
    thresholds, drawing, outputs and batching. ``batch_size`` frames are decoded, detected and posed
    together, their crops in chunks of ``pose_batch_size`` (``follow`` poses frame after frame)."""

    pose_model: str | Path
    det_model: str | Path | None = None
    full_frame: bool = False
    follow: bool = False
    follow_pad: float = 0.25
    follow_thr: float = 0.3
    bbox_thr: float = 0.3
    nms_thr: float = 0.3
    draw: DrawOptions = DrawOptions(draw_bbox=False)
    show: bool = False
    out: str | Path | None = None
    save_json: str | Path | None = None
    device: str = "auto"
    batch_size: int = 8
    pose_batch_size: int = 64
    progress: bool = True
    analysis: AnalysisOptions = AnalysisOptions()  # identities, smoothing, DLC/SLEAP/NWB files

    def check(self, *, observed: bool = False) -> None:
        """``ConfigError`` naming the CLI option of the first value out of range or choice that clashes;
        ``observed``: frame callbacks take the results, so no output is needed."""
        for name, v in (("--bbox-thr", self.bbox_thr), ("--kpt-thr", self.draw.kpt_thr), ("--nms-thr", self.nms_thr)):
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"must be in [0, 1], got {v}", entry=name)
        if self.draw.radius < 1 or self.draw.thickness < 1:
            raise ConfigError(f"must be >= 1, got radius {self.draw.radius}, thickness {self.draw.thickness}", entry="--radius/--thickness")
        boxes_from = [name for name, on in (("--det-model", self.det_model is not None), ("--full-frame", self.full_frame),
                                            ("--follow", self.follow)) if on]
        if len(boxes_from) != 1:
            raise ConfigError(f"give one of --det-model, --full-frame, --follow, not both ({' and '.join(boxes_from)})" if boxes_from else
                              "give a detector with --det-model, or --full-frame (the whole image), or --follow (one animal: "
                              "the previous frame's keypoints)", entry="--det-model")
        if not 0.0 <= self.follow_thr <= 1.0 or not 0.0 <= self.follow_pad <= 2.0:
            raise ConfigError(f"--follow-thr must be in [0, 1] and --follow-pad in [0, 2], got {self.follow_thr}, {self.follow_pad}",
                              entry="--follow-thr/--follow-pad")
        self.analysis.check()
        if self.out is None and self.save_json is None and not self.show and not self.analysis.lab_outputs and not observed:
            raise ConfigError("nothing to do: give --out, --save-json and/or --show", entry="--out")


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


@dataclass
class _Run:
    """The loaded models of one ``run_infer`` and what it gathers while frames stream through ``step``."""

    options: InferOptions
    pose: PoseModel
    detector: Any = None
    classes: list[int] | None = None
    callbacks: list[FrameCallback] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    images: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    instances: int = 0
    analysis: VideoAnalysis | None = None
    follower: BoxFollower | None = None

    def estimate(self, images: list[np.ndarray]) -> list[FrameResult]:
        """Boxes (detector, whole frame, or followed frame by frame) and the pose in each."""
        o = self.options
        if self.follower is None:
            return detect_and_estimate(self.pose, self.detector, self.classes, images, bbox_thr=o.bbox_thr, nms_thr=o.nms_thr,
                                       batch_size=o.pose_batch_size, heatmaps=o.draw.draw_heatmap, timings=self.timings)
        out = []
        for image in images:
            r = estimate_frames(self.pose, [image], [self.follower.next_boxes(image)], batch_size=o.pose_batch_size,
                                heatmaps=o.draw.draw_heatmap, timings=self.timings)[0]
            self.follower.update(r)
            out.append(r)
        return out

    def step(self, batch: list[Frame]) -> list[np.ndarray]:
        """Detect, pose and draw one batch of frames; record what ``--save-json`` and the callbacks need."""
        o = self.options
        frames = self.estimate([f.image for f in batch])
        if self.analysis is not None:
            for f, r in zip(batch, frames):
                self.analysis.observe(f, r)
        t0 = time.perf_counter()
        drawn = [draw_result(f.image, r, self.pose.meta, o.draw) for f, r in zip(batch, frames)] if o.out or o.show else []
        self.timings["draw"] += time.perf_counter() - t0
        for f, r in zip(batch, frames):
            self.instances += len(r)
            if o.save_json is not None:
                self.images.append({"id": f.index, "name": f.name, "width": r.image_size[0], "height": r.image_size[1]})
                self.results.extend(r.to_coco(f.index))
            for cb in self.callbacks:
                cb(f, r)
        return drawn

    def summary(self, source: FrameSource, n: int, seconds: float) -> dict[str, Any]:
        """``run_infer``'s result: counts, fps and ms per frame per stage; logged as one line."""
        o = self.options
        fps = n / seconds if seconds > 0 else 0.0
        summary = {"source": source.path, "kind": source.kind, "frames": n, "instances": self.instances, "seconds": round(seconds, 3),
                   "fps": round(fps, 2), "ms_per_frame": {s: round(1000 * self.timings[s] / max(n, 1), 2) for s in STAGES},
                   "out": None if o.out is None else str(o.out), "json": None if o.save_json is None else str(o.save_json),
                   "pose_model": self.pose.source, "det_model": None if o.det_model is None else str(o.det_model),
                   "keypoint_names": list(self.pose.meta.keypoint_names)}
        if self.follower is not None:
            summary["follow_full_frames"] = self.follower.full_frames
        stages = ", ".join(f"{s} {v:.1f}" for s, v in summary["ms_per_frame"].items())
        log.info("%d frames, %d instances in %.2f s: %.1f fps (ms/frame: %s)", n, self.instances, seconds, fps, stages)
        return summary


def _load(options: InferOptions, callbacks: list[FrameCallback]) -> _Run:
    """The pose model, and the detector with the class ids that keep the pose model's category."""
    pose = load_pose_model(options.pose_model, device=options.device)
    if options.draw.draw_heatmap and not pose.has_heatmaps:
        raise ConfigError(f"{pose.source} gives no heatmaps (a regression model)", entry="--draw-heatmap")
    run = _Run(options, pose, callbacks=callbacks)
    if options.follow:
        run.follower = BoxFollower(pad=options.follow_pad, min_score=options.follow_thr)
    if options.det_model is not None:
        run.detector, info = load_detector(options.det_model, device=options.device)
        run.classes = detector_classes(info, pose.meta)
        if run.classes is None:
            log.warning("detector classes %s include none named '%s': keeping all", info.class_names, pose.meta.category)
    return run


def run_infer(src: str | Path | int | FrameSource, options: InferOptions, *, console: Console | None = None,
              callbacks: list[FrameCallback] | None = None) -> dict[str, Any]:
    """Detection (or whole frames) + pose on ``src`` (or an opened source) as ``options`` say;
    ``callbacks`` see each frame and its result. Returns fps and ms per frame per stage."""
    options.check(observed=bool(callbacks))
    console = console or Console(stderr=True)
    run = _load(options, list(callbacks or ()))
    source = src if isinstance(src, FrameSource) else open_source(src)
    if options.analysis.active:
        run.analysis = VideoAnalysis(options.analysis, source, run.pose)
    start = time.perf_counter()
    n = stream(source, run.step, out=options.out, show=options.show, batch_size=options.batch_size, progress=options.progress,
               console=console, timings=run.timings)
    seconds = time.perf_counter() - start
    if options.save_json is not None:
        write_json(options.save_json, {"source": source.path, "model": run.pose.source, "meta": run.pose.meta.to_dict(),
                                       "images": run.images, "results": run.results})
    summary = run.summary(source, n, seconds)
    summary["lab_outputs"] = run.analysis.write() if run.analysis is not None else {}
    return summary
