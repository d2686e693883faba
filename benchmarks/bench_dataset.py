"""Top-down data pipeline throughput at 256x192: per-sample cost and DataLoader samples/s.

    .venv/bin/python benchmarks/bench_dataset.py [--samples 512] [--synthetic]

Uses ../shared/data/coco_person_minicoco when present (else, or with --synthetic, a folder of
640x480 JPEGs generated with OpenCV under /tmp). Targets come from a Gaussian-heatmap encode
written inline here (48x64, sigma 2, MSRA-style), standing in for ``pose.codecs``. Prints a table
and writes benchmarks/results/dataset.json (via common.report).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.coco import CocoData, build_coco, load_coco  # noqa: E402
from pose.data.dataset import TopdownDataset  # noqa: E402
from pose.data.image import read_image  # noqa: E402
from pose.data.meta import load_meta  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MINICOCO = ROOT.parent / "shared" / "data" / "coco_person_minicoco"
INPUT_SIZE = (192, 256)


class GaussianHeatmaps:
    """MSRA-style targets: one unnormalised Gaussian per keypoint on a 1/4-resolution grid."""

    def __init__(self, input_size: tuple[int, int] = INPUT_SIZE, heatmap_size: tuple[int, int] = (48, 64), sigma: float = 2.0) -> None:
        self.stride = np.array(input_size, np.float32) / np.array(heatmap_size, np.float32)
        self.xs = np.arange(heatmap_size[0], dtype=np.float32)
        self.ys = np.arange(heatmap_size[1], dtype=np.float32)
        self.sigma = sigma

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        mu = np.round(keypoints / self.stride)
        gx = np.exp(-((self.xs - mu[..., :1]) ** 2) / (2 * self.sigma**2))
        gy = np.exp(-((self.ys - mu[..., 1:]) ** 2) / (2 * self.sigma**2))
        heatmaps = gy[..., :, None] * gx[..., None, :]
        w, h = len(self.xs), len(self.ys)
        inside = (mu[..., 0] >= -3 * self.sigma) & (mu[..., 0] < w + 3 * self.sigma) & (mu[..., 1] >= -3 * self.sigma) & (mu[..., 1] < h + 3 * self.sigma)
        weights = ((visibility > 0) & inside).astype(np.float32)
        return {"heatmaps": (heatmaps * weights[..., None, None]).astype(np.float32), "keypoint_weights": weights}


def synthetic(root: Path, n_images: int = 30) -> CocoData:
    """Noise JPEGs with three random 17-keypoint people each."""
    rng = np.random.default_rng(0)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n_images):
        name = f"{i:04d}.jpg"
        img = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (7, 7), 0)
        cv2.imwrite(str(images / name), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        names.append(name)
    n = 3 * n_images
    centers = rng.uniform([100, 100], [540, 380], (n, 1, 2))
    kp = (centers + rng.normal(0, 50, (n, 17, 2))).astype(np.float32)
    return build_coco(
        file_names=names,
        widths=[640] * n_images,
        heights=[480] * n_images,
        ann_image_rows=np.repeat(np.arange(n_images), 3),
        keypoints=kp,
        visibility=np.full((n, 17), 2, np.uint8),
        categories=[{"id": 1, "name": "person", "keypoints": load_meta("coco").keypoint_names}],
        image_root=images,
    )


def per_sample_ms(fn, n: int, rounds: int = 3) -> float:
    """Best of ``rounds`` mean times over ``n`` calls (the machine may be shared)."""
    fn(0)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t) / n * 1e3)
    return best


def loader_rate(ds: TopdownDataset, workers: int, samples: int, batch: int = 32) -> float:
    torch.manual_seed(0)
    sampler = RandomSampler(ds, replacement=True, num_samples=samples)
    loader = DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers, persistent_workers=False)
    it = iter(loader)
    next(it)  # worker start-up and first batch are not throughput
    t = time.perf_counter()
    got = sum(len(b["index"]) for b in it)
    return got / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()

    meta = load_meta("coco")
    if MINICOCO.is_dir() and not args.synthetic:
        data = load_coco(MINICOCO / "annotations/person_keypoints_train2017.json", image_root=MINICOCO / "images/train2017", num_keypoints=17)
        source = "coco_person_minicoco"
    else:
        data = synthetic(Path(tempfile.mkdtemp(prefix="bench_dataset_")))
        source = "synthetic 640x480 jpeg"
    codec = GaussianHeatmaps()
    train = TopdownDataset(data, meta, input_size=INPUT_SIZE, train=True, codec=codec)
    evals = TopdownDataset(data, meta, input_size=INPUT_SIZE, train=False, codec=codec)
    decoded = [read_image(data.image_path(int(r))) for r in train.image_rows]
    rng = np.random.default_rng(0)
    n = len(train)
    zeros = np.zeros((1, 17, 2), np.float32), np.full((1, 17), 2, np.uint8)

    rows = {
        "decode (read_image)": per_sample_ms(lambda i: read_image(data.image_path(int(train.image_rows[i % n]))), min(args.samples, 200)),
        "pipeline train (no decode)": per_sample_ms(lambda i: train.prepare(decoded[i % n], i % n, rng), args.samples),
        "pipeline eval (no decode)": per_sample_ms(lambda i: evals.prepare(decoded[i % n], i % n), args.samples),
        "heatmap encode alone": per_sample_ms(lambda i: codec.encode(*zeros), args.samples),
        "full item train (decode+pipeline)": per_sample_ms(lambda i: train[i % n], min(args.samples, 200)),
    }
    rates = {w: max(loader_rate(train, w, args.samples) for _ in range(2)) for w in (0, 2)}

    table = [{"measure": k, "ms_per_sample": round(v, 3), "samples_per_s": round(1e3 / v, 1)} for k, v in rows.items()]
    table += [{"measure": f"DataLoader num_workers={w}, batch 32", "ms_per_sample": round(1e3 / r, 3), "samples_per_s": round(r, 1)} for w, r in rates.items()]
    report(
        "dataset",
        table,
        title=f"top-down dataset {INPUT_SIZE[0]}x{INPUT_SIZE[1]} on {source} ({os.cpu_count()} CPUs)",
        extra={"data": source, "input_size": list(INPUT_SIZE), "samples": args.samples, "opencv": cv2.__version__},
    )


if __name__ == "__main__":
    main()
