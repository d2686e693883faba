"""Training-step throughput (images/s): forward + backward + AdamW step on random images with
the preset's real targets, compared with MMPose's numbers on the same task (batch 32,
256x192, 2 threads).

Run: .venv/bin/python benchmarks/bench_train_step.py [--presets rtmpose-t,rtmpose-s] [--batch 32]
     [--channels-last | --layouts nchw,cl] [--amp none,bf16] [--interleave]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.engine.optim import build_optimizer  # noqa: E402
from pose.models import build_model  # noqa: E402
from pose.params import TrainParams  # noqa: E402

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


@dataclass
class Stepper:
    """One configuration's model, optimiser and batch, and a method that runs one timed step."""

    preset: str
    batch: int
    amp: str
    channels_last: bool
    compiled: bool
    step_model: torch.nn.Module
    opt: torch.optim.Optimizer
    images: torch.Tensor
    targets: dict[str, torch.Tensor]
    times: list[float] = field(default_factory=list)
    loss: float = float("nan")

    def step(self, timed: bool = True) -> None:
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.amp == "bf16"):
            loss = self.step_model(self.images, self.targets, mode="loss")["loss"]
        loss.backward()
        self.opt.step()
        if timed:
            self.times.append(time.perf_counter() - t0)
            self.loss = float(loss.detach())

    def row(self) -> dict:
        ref = MMPOSE_IMG_S.get(self.preset)
        img_s = self.batch * len(self.times) / sum(self.times)
        return {
            "preset": self.preset, "batch": self.batch, "amp": self.amp, "channels_last": self.channels_last,
            "compiled": self.compiled, "iters": len(self.times),
            "ms_per_step_median": 1000 * statistics.median(self.times), "img_per_s": img_s,
            "mmpose_img_per_s": ref, "vs_mmpose": img_s / ref if ref else None, "loss": self.loss,
        }


def make_stepper(preset: str, batch: int, channels_last: bool, compile_: bool, amp: str = "none") -> Stepper:
    torch.manual_seed(0)
    model = build_model(preset, 17).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, TrainParams(lr=4e-3, weight_decay=0.05))  # what `pose train` steps
    images, targets = random_batch(model, batch)
    return Stepper(preset, batch, amp, channels_last, compile_, torch.compile(model) if compile_ else model, opt, images, targets)


def time_steps(steppers: list[Stepper], iters: int, warmup: int, interleave: bool) -> list[dict]:
    """Time each configuration one after the other, or (``interleave``) one step of each in
    turn, so that a drift in machine speed (often +-20 % over minutes on shared cores) hits
    all of them alike and their ratios hold."""
    for s in steppers:
        for _ in range(warmup):
            s.step(timed=False)
        if not interleave:
            for _ in range(iters):
                s.step()
    if interleave:
        for _ in range(iters):
            for s in steppers:
                s.step()
    return [s.row() for s in steppers]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=",".join(MMPOSE_IMG_S), help="comma-separated preset names")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per preset")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--layouts", default=None, help="comma-separated memory layouts to time: nchw, cl (overrides --channels-last)")
    ap.add_argument("--interleave", action="store_true", help="alternate steps across configurations (fair A/B on a drifting machine)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model first")
    ap.add_argument("--amp", default="none", help="comma-separated AMP modes to time: none, bf16 (CPU autocast)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layouts = args.layouts.split(",") if args.layouts else ["cl" if args.channels_last else "nchw"]
    if not set(layouts) <= {"nchw", "cl"}:
        ap.error(f"--layouts takes nchw and/or cl, got {args.layouts!r}")
    steppers = [
        make_stepper(p.strip(), args.batch, layout == "cl", args.compile, amp)
        for p in args.presets.split(",") if p.strip() for amp in args.amp.split(",") for layout in layouts
    ]
    rows = time_steps(steppers, args.iters, args.warmup, args.interleave)
    report("train_step", rows, title=f"train step, batch {args.batch}, {args.threads} threads",
           extra={"settings": vars(args)})


if __name__ == "__main__":
    main()
