"""Seconds-to-AP curves of the training routes for the synthetic human set: from scratch (the
shipped ResNet-18 recipe) against ImageNet-initialised EfficientNet-Lite0 routes (full fine-tune,
frozen early stages, a lower backbone lr, the lighter stride-16 head, the SimCC head).

    .venv/bin/python benchmarks/bench_transfer.py [--routes r18-scratch,lite0-freeze3] [--minutes 10]
                                                  [--val-every 2] [--quick] [--dataset DIR]
    pose bench transfer

Each route trains with ``params/pose.yaml`` plus its overrides for ``--minutes`` of estimated
training (epochs = minutes / the CPU seconds per thread of a probe epoch, so every route gets the
same budget and a full cosine schedule) and validates every ``--val-every`` epochs (GT boxes, flip
test). The curve of each route is (seconds, AP) at every validation: wall seconds since the start
of training (validation included) and the process's CPU seconds / threads, which stays meaningful
when other work shares the machine. The table has the AP at the end, the best AP and the seconds
to reach 0.9x the best scratch AP; ``results/bench_transfer.png`` draws the curves.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, report  # noqa: E402

from pose.data.synth import generate  # noqa: E402
from pose.params import PoseParams  # noqa: E402
from pose.params.overrides import apply_overrides  # noqa: E402
from pose.recipes.topdown import train_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LITE0 = ["model.preset=simplebaseline-lite0", "model.pretrained=imagenet"]
ROUTES: dict[str, list[str]] = {
    "r18-scratch": [],
    "lite0": LITE0,
    "lite0-freeze3": [*LITE0, "train.freeze_stages=3"],
    "lite0-bblr0.1": [*LITE0, "train.backbone_lr_mult=0.1"],
    "lite0-s16-freeze3": ["model.preset=simplebaseline-lite0-s16", "model.pretrained=imagenet", "train.freeze_stages=3"],
    "rtmpose-lite0": ["model.preset=rtmpose-lite0", "model.pretrained=imagenet"],
}
QUICK = ["model.input_size=[64,64]", "train.batch_size=8", "test.flip=false"]


class Clock:
    """Trainer callback: (epoch, wall s, cpu s / threads, AP) at every validated epoch."""

    def __init__(self) -> None:
        self.points: list[dict[str, float]] = []
        self.epoch_s: list[float] = []  # CPU seconds / threads per epoch
        self._t0 = self._c0 = self._last = 0.0

    def on_train_start(self, info: dict[str, Any]) -> None:
        self._t0 = time.perf_counter()
        self._c0 = self._last = time.process_time()

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.epoch_s.append((cpu - self._last) / torch.get_num_threads())
        self._last = cpu
        if "AP" in metrics:
            used = (cpu - self._c0) / torch.get_num_threads()
            self.points.append({"epoch": epoch, "wall_s": round(now - self._t0, 1), "cpu_s": round(used, 1), "AP": metrics["AP"]})


def route_params(dataset: Path, overrides: list[str], epochs: int, val_every: int) -> PoseParams:
    cfg = yaml.safe_load((ROOT / "params" / "pose.yaml").read_text())
    sets = [f"dataset={dataset}", f"train.epochs={epochs}", f"train.val_interval={val_every}", *overrides]
    return PoseParams.model_validate(apply_overrides(cfg, sets, PoseParams))


def epoch_seconds(dataset: Path, overrides: list[str], work: Path) -> float:
    """CPU seconds / threads of one training epoch of the route (its second: the first warms up)."""
    clock = Clock()
    train_pose(route_params(dataset, overrides, 2, 1000), work, validate=False, callbacks=[clock], device="cpu")
    return clock.epoch_s[-1]


def run_route(name: str, dataset: Path, minutes: float, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    overrides = ROUTES[name] + (QUICK if args.quick else [])
    epochs = args.epochs or max(1, math.floor(minutes * 60 / epoch_seconds(dataset, overrides, work / "probe")))
    clock = Clock()
    summary = train_pose(route_params(dataset, overrides, epochs, args.val_every), work / "train", callbacks=[clock], device="cpu")
    last = clock.points[-1] if clock.points else {"AP": float("nan"), "wall_s": float("nan"), "cpu_s": float("nan")}
    return {"route": name, "epochs": epochs, "train_min": round(summary["train_seconds"] / 60, 2), "AP": last["AP"],
            "best_AP": max((p["AP"] for p in clock.points), default=float("nan")), "curve": clock.points,
            "cpu_s_per_epoch": round(sum(clock.epoch_s) / max(1, len(clock.epoch_s)), 2)}


def seconds_to(curve: list[dict[str, float]], target: float, key: str) -> float | None:
    return next((p[key] for p in curve if p["AP"] >= target), None)


def plot(results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ax.plot([p["cpu_s"] / 60 for p in r["curve"]], [p["AP"] for p in r["curve"]], marker="o", label=r["route"])
    ax.set(xlabel="training minutes (CPU seconds / threads)", ylabel="COCO AP (val, GT boxes, flip)",
           title="Seconds to AP on 2 CPU cores: scratch vs ImageNet routes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", default=",".join(ROUTES), help="comma-separated, from: " + ", ".join(ROUTES))
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget per route")
    ap.add_argument("--epochs", type=int, help="fixed epochs per route instead of the budget")
    ap.add_argument("--val-every", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="64x64, no flip, 1 epoch: proves the script, measures nothing")
    ap.add_argument("--dataset", type=Path, help="dataset folder (default: a fresh `pose data synth`)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for bench_transfer.json and .png")
    args = ap.parse_args(argv)
    names = [n for n in args.routes.split(",") if n]
    unknown = [n for n in names if n not in ROUTES]
    if unknown:
        ap.error(f"unknown route(s) {', '.join(unknown)}; known: {', '.join(ROUTES)}")
    if args.quick:
        args.epochs, args.val_every = 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or Path(generate(Path(tmp) / "synth", progress=False)["out"])
        results = [run_route(n, dataset, args.minutes, args, Path(tmp) / n) for n in names]
    scratch = next((r["best_AP"] for r in results if r["route"] == "r18-scratch"), None)
    rows = [{k: r[k] for k in ("route", "epochs", "cpu_s_per_epoch", "train_min", "AP", "best_AP")}
            | ({"cpu_s_to_0.9x_scratch": seconds_to(r["curve"], 0.9 * scratch, "cpu_s")} if scratch else {}) for r in results]
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "bench_transfer.png")
    return report("bench_transfer", rows, title=f"Training routes, {args.minutes:g} min budget each (synthetic human val)",
                  extra={"curves": {r["route"]: r["curve"] for r in results}, "overrides": {n: ROUTES[n] for n in names},
                         "quick": args.quick}, out=args.out / "bench_transfer.json")


if __name__ == "__main__":
    main()
