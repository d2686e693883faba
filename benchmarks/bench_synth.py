"""Synthetic dataset generation speed: images/s per kind (single process), as a table and JSON.

    .venv/bin/python benchmarks/bench_synth.py [--images 200] [--size 320]

Writes benchmarks/results/synth.json. Times the whole ``generate`` call: rendering, JPEG
encoding, writing images and annotations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from pose.data.synth import SYNTH_VERSION, generate
from pose.fileio import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "synth.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("human", "quadruped"):
            start = time.perf_counter()
            s = generate(Path(tmp) / kind, kind=kind, images=args.images, seed=args.seed, size=args.size, progress=False)
            seconds = time.perf_counter() - start
            instances = sum(s["instances"].values())
            mb = sum(p.stat().st_size for p in (Path(tmp) / kind).rglob("*") if p.is_file()) / 1e6
            rows.append({"kind": kind, "images": args.images, "size": args.size, "instances": instances,
                         "seconds": round(seconds, 3), "images_per_s": round(args.images / seconds, 2), "megabytes": round(mb, 2)})
    print(f"{'kind':<10} {'images':>6} {'size':>5} {'instances':>9} {'seconds':>8} {'images/s':>9} {'MB':>6}")
    for r in rows:
        print(f"{r['kind']:<10} {r['images']:>6} {r['size']:>5} {r['instances']:>9} {r['seconds']:>8.2f} {r['images_per_s']:>9.1f} {r['megabytes']:>6.1f}")
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), "synth_version": SYNTH_VERSION}
    write_json(RESULTS, {"benchmark": "synth", "env": env, "results": rows}, indent=2)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
