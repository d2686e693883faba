"""End-to-end ``pose infer`` throughput (CPU, or CUDA with ``--device cuda``): a 640x480 video, a detector (ssdlite320-mobilenetv3
by default, or fcos-tiny) + rtmpose-t, split into decode / detect / crop / pose / draw / encode
(ms per frame).

The video is made once in /tmp from synthetic scenes (``pose.data.synth``) letterboxed to 640x480.
Weights are untrained: timings are what matter. An untrained detector's boxes are random in
number, so its output is capped (or padded) to ``--instances`` boxes per frame to mimic a scene
with that many people; the detector still runs in full on every frame.

    .venv/bin/python benchmarks/bench_infer.py [--seconds 30] [--detector ssdlite320-mobilenetv3|fcos-tiny]
        [--instances 2] [--batch-size 8] [--threads 1] [--no-flip] [--device cpu|cuda] [--track-ids]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.draw import fit  # noqa: E402
from pose.data.meta import load_meta  # noqa: E402
from pose.data.synth import image_rng, render_scene  # noqa: E402
from pose.detection.predict import checkpoint_config as det_config  # noqa: E402
from pose.detection.presets import build_detector  # noqa: E402
from pose.engine.checkpoint import save_checkpoint  # noqa: E402
from pose.inference import infer  # noqa: E402
from pose.inference.analysis import AnalysisOptions  # noqa: E402
from pose.inference.visualize import DrawOptions  # noqa: E402
from pose.params import PoseParams  # noqa: E402
from pose.recipes.topdown import build_pose_model, checkpoint_config  # noqa: E402

W, H, FPS = 640, 480, 30.0


def make_video(path: Path, seconds: float) -> Path:
    """Synthetic scenes letterboxed to 640x480, each held for 10 frames and drifting 2 px per frame."""
    scenes = [cv2.resize(fit(render_scene(image_rng(7, i), "human", 256).image, 480), (480, 480)) for i in range(8)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for f in range(int(seconds * FPS)):
        frame = np.zeros((H, W, 3), np.uint8)
        x = 20 + (2 * f) % 120
        frame[:, x : x + 480] = scenes[(f // 10) % len(scenes)]
        writer.write(frame)
    writer.release()
    return path


def make_models(folder: Path, detector: str, det_size: int, flip: bool) -> tuple[Path, Path]:
    meta = load_meta("coco")
    torch.manual_seed(0)
    params = PoseParams.model_validate({"model": {"preset": "rtmpose-t"}, "test": {"flip": flip}})
    pose = build_pose_model(params, meta)
    save_checkpoint(folder / "rtmpose-t.pth", {"model": pose.state_dict(), "config": checkpoint_config(params, meta, pose)})
    det = build_detector(detector, 1, det_size)
    save_checkpoint(folder / "det.pth", {"model": det.state_dict(), "config": det_config(detector, det_size, ["person"], [1])})
    return folder / "det.pth", folder / "rtmpose-t.pth"


def capped_detect(n: int):  # noqa: ANN201
    """The real ``detect``, then exactly ``n`` boxes per frame (its best ones, padded with fixed boxes)."""
    real = infer.detect
    fixed = np.array([[120 + 150 * i, 60, 260 + 150 * i, 440] for i in range(n)], np.float32)

    def detect(model, images, **kw):  # noqa: ANN001, ANN202, ANN003
        out = []
        for boxes, scores, labels in real(model, images, **{**kw, "score_thr": 0.0}):
            boxes = np.concatenate([boxes[(boxes[:, 2] - boxes[:, 0] > 8) & (boxes[:, 3] - boxes[:, 1] > 8)], fixed])[:n]
            out.append((boxes, np.ones(n, np.float32), np.ones(n, np.int64)))
        return out

    return detect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--detector", default="ssdlite320-mobilenetv3", help="detector preset (pose models shows them)")
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--det-size", type=int, default=320, help="detector input long side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids oversubscription on a shared CPU)")
    ap.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="pose flip test (doubles pose cost)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (an error without a GPU)")
    ap.add_argument("--track-ids", action="store_true", help="identities across frames (pose infer --track-ids)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        tmp_path = Path(tmp)
        video = make_video(tmp_path / "synth_640x480.mp4", args.seconds)
        det, pose = make_models(tmp_path, args.detector, args.det_size, args.flip)
        infer.detect = capped_detect(args.instances)
        s = infer.run_infer(video, infer.InferOptions(pose, det_model=det, out=tmp_path / "out.mp4", device=args.device,
                                                      analysis=AnalysisOptions(track=args.track_ids),
                                                      draw=DrawOptions(draw_bbox=True), batch_size=args.batch_size, progress=False))
    ms = s["ms_per_frame"]
    rows = [{"stage": k, "ms_per_frame": v, "share_%": round(100 * v / max(sum(ms.values()), 1e-9), 1)} for k, v in ms.items()]
    rows.append({"stage": "total (wall)", "ms_per_frame": round(1000 * s["seconds"] / s["frames"], 2), "share_%": 100.0})
    report("infer", rows, title=f"pose infer, {W}x{H} video, {s['frames']} frames, {args.instances} instances/frame, "
           f"{args.detector}@{args.det_size} + rtmpose-t 256x192 (flip {args.flip}, {args.device}, track ids {args.track_ids}): {s['fps']} fps",
           extra={"args": vars(args), "frames": s["frames"], "fps": s["fps"], "instances": s["instances"]})


if __name__ == "__main__":
    main()
