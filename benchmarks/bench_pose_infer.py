"""Top-down pose inference per preset: latency of one box end to end (crop, preprocess, forward,
decode, map back: ``pose.inference.api.inference_topdown``) and throughput at 32 boxes per call,
with and without flip test, against MMPose's numbers on the same kind of machine (RTMPose-t,
256x192, one box: 9.9 ms without flip, 18.1 ms with).

    .venv/bin/python benchmarks/bench_pose_infer.py [--presets rtmpose-t,simplebaseline-r18] [--threads 2] [--device cpu|cuda]

Weights are untrained (timings do not depend on them); the image is a 640x480 synthetic scene.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, timeit  # noqa: E402

from pose.data.meta import load_meta  # noqa: E402
from pose.data.synth import image_rng, render_scene  # noqa: E402
from pose.inference.api import PoseModel, inference_topdown  # noqa: E402
from pose.models import build_model  # noqa: E402

#: MMPose 1.3.2, RTMPose-t 256x192, one box end to end, ms (no flip, flip).
MMPOSE_MS = {"rtmpose-t": (9.9, 18.1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="rtmpose-t,rtmpose-s,simplebaseline-r18,simplebaseline-r50")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    meta = load_meta("coco")
    image = cv2.resize(render_scene(image_rng(3, 0), "human", 320).image, (640, 480))
    one = np.array([[200, 60, 360, 440]], np.float32)
    many = np.tile(one, (args.batch, 1)) + np.arange(args.batch, dtype=np.float32)[:, None]
    rows = []
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        torch.manual_seed(0)
        net = build_model(preset, meta.num_keypoints, flip_indices=meta.flip_indices.tolist()).to(device).eval()
        model = PoseModel(net=net, meta=meta, input_size=net.input_size, source=preset, kind="checkpoint")
        ref = MMPOSE_MS.get(preset)
        for flip in (False, True):
            net.flip_test = flip
            ms = 1000 * timeit(lambda: inference_topdown(model, image, one), args.repeats, warmup=3)[1]
            batch_s = timeit(lambda: inference_topdown(model, image, many, batch_size=args.batch), max(3, args.repeats // 5))[1]
            mm = ref[int(flip)] if ref else None
            rows.append({"preset": preset, "input": "x".join(map(str, net.input_size)), "flip": flip,
                         "ms_one_box": ms, "mmpose_ms": mm, "vs_mmpose": mm / ms if mm else None,
                         f"boxes_per_s_at_{args.batch}": args.batch / batch_s})
    report("pose_infer", rows, title=f"pose inference, {args.device}, {args.threads} threads", extra={"settings": vars(args)})


if __name__ == "__main__":
    main()
