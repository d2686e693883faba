"""Training-step throughput (images/s): forward + backward + AdamW step on random images with
the preset's real targets, compared with MMPose's numbers on the same task (batch 32,
256x192, 2 threads).

Run: .venv/bin/python benchmarks/bench_train_step.py [--presets rtmpose-t,rtmpose-s] [--batch 32]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.engine.trainer import OptimSettings, build_optimizer  # noqa: E402
from pose.models import build_model  # noqa: E402

#: MMPose 1.x, same machine class: batch 32, 256x192, 2 threads, fwd + bwd + step.
MMPOSE_IMG_S = {"rtmpose-t": 61.7, "rtmpose-s": 40.7, "rtmpose-m": 16.1, "simplebaseline-r50": 6.2}


def random_batch(model, batch: int, num_keypoints: int = 17, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """uint8 images and the codec's targets for random visible keypoints inside the input."""
    rng = np.random.default_rng(seed)
    w, h = model.input_size
    images = torch.from_numpy(rng.integers(0, 256, (batch, 3, h, w), dtype=np.uint8))
    kp = rng.uniform((0, 0), (w - 1, h - 1), (batch, num_keypoints, 2)).astype(np.float32)
    targets = model.codec.encode(kp, np.full(kp.shape[:2], 2, np.uint8))
    return images, {k: torch.from_numpy(v) for k, v in targets.items()}


def time_steps(preset: str, batch: int, iters: int, warmup: int, channels_last: bool, compile_: bool, amp: str = "none") -> dict:
    torch.manual_seed(0)
    model = build_model(preset, 17).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile_ else model
    opt = build_optimizer(model, OptimSettings(epochs=1, lr=4e-3, weight_decay=0.05))  # what `pose train` steps
    images, targets = random_batch(model, batch)
    times = []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16"):
            loss = step_model(images, targets, mode="loss")["loss"]
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    total = sum(times)
    ref = MMPOSE_IMG_S.get(preset)
    img_s = batch * len(times) / total
    return {
        "preset": preset,
        "batch": batch,
        "amp": amp,
        "channels_last": channels_last,
        "compiled": compile_,
        "iters": len(times),
        "ms_per_step_median": 1000 * statistics.median(times),
        "img_per_s": img_s,
        "mmpose_img_per_s": ref,
        "vs_mmpose": img_s / ref if ref else None,
        "loss": float(loss.detach()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(MMPOSE_IMG_S), help="comma-separated preset names")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per preset")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model first")
    ap.add_argument("--amp", default="none", help="comma-separated AMP modes to time: none, bf16 (CPU autocast)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [
        time_steps(p.strip(), args.batch, args.iters, args.warmup, args.channels_last, args.compile, amp)
        for p in args.presets.split(",") if p.strip() for amp in args.amp.split(",")
    ]
    report("train_step", rows, title=f"train step, batch {args.batch}, {args.threads} threads",
           extra={"settings": vars(args)})


if __name__ == "__main__":
    main()
