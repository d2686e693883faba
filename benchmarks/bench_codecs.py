"""Codec throughput: encode (numpy) and decode (numpy and torch input) time per instance.

Batched over B instances of K=17 keypoints at 256x192 on CPU with few torch threads, compared
with the per-instance MMPose 1.3.2 times quoted in the issue. Prints a table and writes
benchmarks/results/codecs.json.

    .venv/bin/python benchmarks/bench_codecs.py [--batch 64] [--repeats 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timeit  # noqa: E402

from pose.codecs import MSRAHeatmap, RegressionLabel, SimCCLabel, UDPHeatmap  # noqa: E402
from pose.fileio import write_json  # noqa: E402

K = 17
INPUT = (192, 256)
# MMPose 1.3.2, one instance per call (from the issue): encode 0.2-0.3 ms for all codecs.
MMPOSE_US = {
    "msra": {"encode": 250.0, "decode": 110.0},
    "msra+dark": {"encode": 250.0, "decode": 707.0},
    "udp": {"encode": 250.0, "decode": 357.0},
    "simcc": {"encode": 250.0, "decode": 14.0},
    "regression": {"encode": None, "decode": None},
}
CODECS = {
    "msra": MSRAHeatmap(INPUT),
    "msra+dark": MSRAHeatmap(INPUT, dark=True),
    "udp": UDPHeatmap(INPUT),
    "simcc": SimCCLabel(INPUT),
    "regression": RegressionLabel(INPUT),
}


def predictions(encoded: dict[str, np.ndarray], seed: int) -> object:
    """Prediction-like outputs: the targets plus a little noise."""
    rng = np.random.default_rng(seed)
    noisy = {k: v + rng.normal(0, 0.02, v.shape).astype(np.float32) for k, v in encoded.items() if k != "keypoint_weights"}
    if "simcc_x" in noisy:
        return noisy["simcc_x"], noisy["simcc_y"]
    return noisy.get("heatmaps", noisy.get("coords"))


def as_torch(outputs: object) -> object:
    if isinstance(outputs, tuple):
        return tuple(torch.from_numpy(o) for o in outputs)
    return torch.from_numpy(outputs)


def run(batch: int, repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    w, h = INPUT
    kp = np.stack([rng.uniform(0, w - 1, (batch, K)), rng.uniform(0, h - 1, (batch, K))], -1).astype(np.float32)
    vis = rng.choice(np.array([0, 1, 2], np.uint8), (batch, K), p=[0.2, 0.1, 0.7])
    rows = []
    for name, codec in CODECS.items():
        outputs = predictions(codec.encode(kp, vis), seed=1)
        outputs_t = as_torch(outputs)
        enc = timeit(lambda: codec.encode(kp, vis), repeats)
        dec = timeit(lambda: codec.decode(outputs), repeats)
        dec_t = timeit(lambda: codec.decode(outputs_t), repeats)
        ref = MMPOSE_US[name]
        rows.append({
            "codec": name,
            "batch": batch,
            "encode_us_per_instance": 1e6 * enc[0] / batch,
            "decode_numpy_us_per_instance": 1e6 * dec[0] / batch,
            "decode_torch_us_per_instance": 1e6 * dec_t[0] / batch,
            "encode_us_per_instance_median": 1e6 * enc[1] / batch,
            "decode_numpy_us_per_instance_median": 1e6 * dec[1] / batch,
            "decode_torch_us_per_instance_median": 1e6 * dec_t[1] / batch,
            "mmpose_encode_us_per_instance": ref["encode"],
            "mmpose_decode_us_per_instance": ref["decode"],
        })
    return rows


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "codecs.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.batch, args.repeats)
    print(
        f"codecs, K={K}, input {INPUT[1]}x{INPUT[0]}, batch {args.batch}, torch threads {args.threads}: "
        f"us per instance, best of {args.repeats} batched calls"
    )
    print(f"{'codec':<11} {'encode':>9} {'dec(np)':>9} {'dec(torch)':>10} | {'MMPose enc':>10} {'MMPose dec':>10} {'dec speed-up':>12}")
    for r in rows:
        ref = r["mmpose_decode_us_per_instance"]
        speed = "-" if ref is None else f"{ref / r['decode_numpy_us_per_instance']:11.1f}x"
        print(
            f"{r['codec']:<11} {fmt(r['encode_us_per_instance'])} {fmt(r['decode_numpy_us_per_instance'])} "
            f"{fmt(r['decode_torch_us_per_instance']):>10} | {fmt(r['mmpose_encode_us_per_instance']):>10} "
            f"{fmt(ref):>10} {speed:>12}"
        )
    write_json(
        args.out,
        {
            "batch": args.batch,
            "keypoints": K,
            "input_size_wh": list(INPUT),
            "torch_threads": args.threads,
            "repeats": args.repeats,
            "statistic": "best (and median) seconds per batched call / batch",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "machine": platform.processor() or platform.machine(),
            "rows": rows,
        },
        indent=2,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
