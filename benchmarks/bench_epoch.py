"""Whole training epochs of ``pose train`` (data, forward, backward, optimizer, EMA, checkpoint):
seconds per epoch, images/s and the share of time spent waiting on data, per loader-worker
count and AMP mode. This is what decides ``train.workers: auto`` and ``train.amp: auto``.

    .venv/bin/python benchmarks/bench_epoch.py [--dataset /tmp/synth] [--workers 0,1,2] [--amp none,bf16]

The dataset defaults to a fresh ``pose data synth`` folder (the embedded default, 400 images).
Each configuration trains ``--epochs`` epochs (no validation) and is timed on the last one, so
worker start-up and first-touch costs of epoch 1 are not counted twice. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.synth import generate  # noqa: E402
from pose.params import PoseParams  # noqa: E402
from pose.recipes.topdown import train_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class EpochClock:
    """Callback: wall time of every epoch and its data wait."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.rows: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        now = time.perf_counter()
        self.rows.append((now - self.t, float(metrics.get("data_wait_s", 0.0))))
        self.t = now


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="dataset folder (default: a fresh synthetic one)")
    ap.add_argument("--params", default=str(ROOT / "params" / "pose.yaml"))
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--amp", default="none,bf16")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or generate(Path(tmp) / "synth", progress=False)["out"]
        base = yaml.safe_load(Path(args.params).read_text())
        rows = []
        for amp in args.amp.split(","):
            for workers in args.workers.split(","):
                cfg = {**base, "dataset": str(dataset), "train": {**base["train"], "epochs": args.epochs, "amp": amp,
                                                               "workers": workers if workers == "auto" else int(workers)}}
                params = PoseParams.model_validate(cfg)
                clock = EpochClock()
                summary = train_pose(params, Path(tmp) / f"run-{amp}-{workers}", validate=False, callbacks=[clock],
                                     console=None)
                seconds, wait = clock.rows[-1]
                n = summary["train_instances"] // params.train.batch_size * params.train.batch_size
                rows.append({"preset": params.model.preset, "input": "x".join(map(str, params.model.input_size or ())),
                             "amp": summary["amp"], "workers": summary["workers"], "s_per_epoch": seconds,
                             "img_per_s": n / seconds, "data_wait_pct": 100 * wait / seconds})
    report("epoch", rows, title=f"pose train epochs ({args.epochs}, last one timed)", extra={"settings": vars(args)})


if __name__ == "__main__":
    main()
