"""Validator wall time on a synthetic 5,000-image COCO set with real image files, and on dlc_openfield.

Images (small JPEG/PNG written by cv2) are cached in /tmp/posepipe-bench-validate, so reruns
only time the validation. Run: .venv/bin/python benchmarks/bench_validate.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.meta import load_meta  # noqa: E402
from pose.data.validate import validate  # noqa: E402

CACHE = Path("/tmp/posepipe-bench-validate")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
N_IMAGES = 5_000
PER_IMAGE = 2
W, H = 96, 72


def make_images(root: Path, n: int) -> list[str]:
    """Half JPEG, half PNG; written once."""
    names = [f"{i:05d}.{'jpg' if i % 2 else 'png'}" for i in range(n)]
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    for i, name in enumerate(names):
        if not (root / name).is_file():
            cv2.imwrite(str(root / name), np.roll(base, i, axis=1))
    return names


def make_coco(path: Path, names: list[str]) -> None:
    rng = np.random.default_rng(1)
    n = len(names) * PER_IMAGE
    kp = np.concatenate([rng.uniform(5, min(W, H) - 5, (n, 17, 2)).round(2), rng.integers(0, 3, (n, 17, 1))], axis=2)
    images = [{"id": i, "file_name": f, "width": W, "height": H} for i, f in enumerate(names)]
    anns = [
        {"id": j, "image_id": j // PER_IMAGE, "category_id": 1, "bbox": [2.0, 2.0, 60.0, 60.0], "area": 3600.0, "iscrowd": 0,
         "num_keypoints": int((kp[j, :, 2] > 0).sum()), "keypoints": kp[j].reshape(-1).tolist()}
        for j in range(n)
    ]
    meta = load_meta("coco")
    cats = [{"id": 1, "name": "person", "keypoints": meta.keypoint_names, "skeleton": (meta.skeleton + 1).tolist()}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))


def timed(fn, repeats: int = 3) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), sorted(times)[len(times) // 2], out


def main() -> None:
    t0 = time.perf_counter()
    names = make_images(CACHE / "images", N_IMAGES)
    ann = CACHE / "annotations.json"
    make_coco(ann, names)
    print(f"fixture ready in {time.perf_counter() - t0:.1f} s ({CACHE})")
    meta = load_meta("coco")
    rows = []
    for label, kw in (("synthetic 5k, header read", {}), ("synthetic 5k, no images", {"check_images": False}), ("synthetic 5k, full decode", {"decode": True})):
        best, med, r = timed(lambda kw=kw: validate(ann, CACHE / "images", meta, **kw))
        rows.append({"dataset": label, "images": r.counts["images"], "annotations": r.counts["annotations"], "best_s": best, "median_s": med, "findings": len(r.findings)})
    dlc = SHARED / "dlc_openfield"
    if dlc.is_dir():
        for label, kw in (("dlc_openfield, header read", {}), ("dlc_openfield, full decode", {"decode": True})):
            best, med, r = timed(lambda kw=kw: validate(dlc / "coco" / "annotations.json", dlc, None, **kw))
            rows.append({"dataset": label, "images": r.counts["images"], "annotations": r.counts["annotations"], "best_s": best, "median_s": med, "findings": len(r.findings)})
    report("validate", rows, title="pose data validate: wall time (s)")


if __name__ == "__main__":
    main()
