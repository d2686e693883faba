"""COCO keypoints load time vs annotation count (target: 20k annotations well under 1 s).

Run: .venv/bin/python benchmarks/bench_coco_load.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.coco import load_coco  # noqa: E402


def make_file(path: Path, n: int, k: int = 17, per_image: int = 4) -> None:
    rng = np.random.default_rng(0)
    m = max(1, n // per_image)
    images = [{"id": i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480} for i in range(m)]
    kp = np.concatenate([rng.uniform(0, 400, (n, k, 2)).round(2), rng.integers(0, 3, (n, k, 1))], axis=2)
    anns = [
        {"id": i, "image_id": i % m, "category_id": 1, "bbox": [1.5, 2.5, 300.0, 400.0], "area": 1200.0,
         "iscrowd": 0, "num_keypoints": int((kp[i, :, 2] > 0).sum()), "keypoints": kp[i].reshape(-1).tolist()}
        for i in range(n)
    ]
    cats = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(k)], "skeleton": []}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1_000, 5_000, 20_000):
            f = Path(tmp) / f"{n}.json"
            make_file(f, n)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                load_coco(f, image_root=Path(tmp))
                times.append(time.perf_counter() - t0)
            rows.append({"annotations": n, "file_MB": round(f.stat().st_size / 1e6, 1), "best_s": min(times), "median_s": sorted(times)[1]})
    report("coco_load", rows, title="load_coco (json parse + arrays + checks)")


if __name__ == "__main__":
    main()
