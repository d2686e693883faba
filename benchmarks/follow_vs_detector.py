"""Single-animal video: does ``pose infer --follow`` keep the animal in its box as well as a detector?

Not a ``bench_*`` script (``pose bench`` runs those without arguments): it needs a pose model and a
detector trained on the project, e.g. on ``../shared/data/dlc_openfield``. The reference box per
frame comes from the video itself: under a fixed camera the animal is what differs from the median
frame, so the largest foreground blob (after an opening that removes the tail and edge glints) is
its body. For each route, per frame: the region the pose model sees (the route's box, padded 1.25x
and widened to the model's aspect, as ``crop_boxes`` does) covers at least ``--cover`` of the body
box ("kept"); whether the pose found the animal ("on_animal": all keypoints inside the body box
grown by 25% of its size per side, the tail base being at the body's edge); and the pose's mean
keypoint score. A whole-frame pass counts as kept (it covers everything) but rarely finds the
keypoints at the model's small input size: "on_animal" is the figure that matters. Prints a table,
writes JSON.

    python benchmarks/follow_vs_detector.py VIDEO --pose-model P --det-model D [--frames 600] [--pads 0.1,0.25]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from common import RESULTS, machine

from pose.data.transforms import bbox_xyxy_to_cs, fix_aspect_ratio
from pose.fileio import write_json
from pose.inference.api import detect, estimate_frames, load_detector, load_pose_model
from pose.inference.follow import BoxFollower


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def body_boxes(frames: list[np.ndarray], thr: int = 40, min_area: int = 200) -> list[np.ndarray | None]:
    """The animal's body box per frame: the largest blob differing from the median frame."""
    background = np.median(np.stack(frames[:: max(1, len(frames) // 60)]), axis=0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    boxes: list[np.ndarray | None] = []
    for f in frames:
        mask = cv2.morphologyEx((cv2.absdiff(f, background).max(axis=2) > thr).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        if n < 2 or stats[1:, cv2.CC_STAT_AREA].max() < min_area:
            boxes.append(None)
            continue
        x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
        boxes.append(np.array([x, y, x + w, y + h], np.float32))
    return boxes


def coverage(box: np.ndarray | None, ref: np.ndarray) -> float:
    """Fraction of ``ref``'s area inside ``box`` (0 without a box)."""
    if box is None:
        return 0.0
    w = max(0.0, min(box[2], ref[2]) - max(box[0], ref[0]))
    h = max(0.0, min(box[3], ref[3]) - max(box[1], ref[1]))
    return float(w * h / max((ref[2] - ref[0]) * (ref[3] - ref[1]), 1e-6))


def on_animal(keypoints: np.ndarray, ref: np.ndarray, grow: float = 0.25) -> bool:
    """All (K, 2) keypoints inside ``ref`` grown by ``grow`` of its size on every side."""
    size = ref[2:] - ref[:2]
    lo, hi = ref[:2] - grow * size, ref[2:] + grow * size
    return bool(((keypoints >= lo) & (keypoints <= hi)).all())


def crop_region(box: np.ndarray, pose: Any) -> np.ndarray:
    """The image region (xyxy) the pose model sees for ``box``: padding and aspect as ``crop_boxes``."""
    w, h = pose.input_size
    center, scale = bbox_xyxy_to_cs(box[None], pose.padding)
    scale = fix_aspect_ratio(scale, w / h)
    return np.concatenate([center - scale / 2, center + scale / 2], axis=1)[0]


def run_route(name: str, frames: list[np.ndarray], refs: list[np.ndarray | None], pose: Any, detector: Any, args: argparse.Namespace,
              pad: float = 0.25) -> dict[str, Any]:
    """Pose every frame through one route; kept and on-animal fractions, mean keypoint score, whole-frame passes, ms/frame."""
    follower = BoxFollower(pad=pad, min_score=args.thr) if detector is None else None
    kept, found, scores, t0 = [], [], [], time.perf_counter()
    for frame, ref in zip(frames, refs):
        if follower is not None:
            box = follower.next_boxes(frame)
        else:
            b, s, _ = detect(detector, [frame], score_thr=0.3, nms_thr=0.3, classes=None)[0]
            box = b[np.argsort(-s)[:1]] if len(b) else None
        r = estimate_frames(pose, [frame], [box if box is not None else np.zeros((0, 4), np.float32)])[0]
        if follower is not None:
            follower.update(r)
        scores.append(float(r.keypoint_scores[0].mean()) if len(r) else 0.0)
        if ref is not None:
            kept.append(coverage(None if box is None or not len(box) else crop_region(box[0], pose), ref) >= args.cover)
            found.append(len(r) > 0 and on_animal(r.keypoints[0], ref))
    ms = 1000 * (time.perf_counter() - t0) / max(len(frames), 1)
    return {"route": name, "frames": len(frames), "reference_frames": len(kept), "kept": float(np.mean(kept)), "on_animal": float(np.mean(found)),
            "mean_score": float(np.mean(scores)), "score_under_thr": float(np.mean(np.array(scores) < args.thr)),
            "whole_frame_passes": follower.full_frames if follower else 0, "ms_per_frame": round(ms, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--pose-model", type=Path, required=True)
    ap.add_argument("--det-model", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--pads", default="0.25", help="--follow-pad values to compare, comma-separated")
    ap.add_argument("--thr", type=float, default=0.3)
    ap.add_argument("--cover", type=float, default=0.9, help="fraction of the body box a route's box must cover")
    args = ap.parse_args()
    frames = read_frames(args.video, args.frames)
    refs = body_boxes(frames)
    pose = load_pose_model(args.pose_model)
    detector, _ = load_detector(args.det_model)
    rows = [run_route(f"follow pad {pad:g}", frames, refs, pose, None, args, pad) for pad in map(float, args.pads.split(","))]
    rows.append(run_route("detector", frames, refs, pose, detector, args))
    for r in rows:
        print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    write_json(RESULTS / "follow_vs_detector.json", {"video": str(args.video), "args": {k: str(v) for k, v in vars(args).items()},
                                                     "rows": rows, "machine": machine()}, indent=2)


if __name__ == "__main__":
    main()
