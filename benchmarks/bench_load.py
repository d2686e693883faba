"""Load test: COCO sets of 1k / 5k / 20k images with 3 instances each (64x64 JPEGs sharing one
encoded picture, so the files are real but cheap to write), timing and peak RSS of loading,
validating (with image headers), evaluating (predictions = GT + noise) and one training epoch
(rtmpose-t at 32x32, capped at --train-iters iterations, so the epoch time is extrapolated).

Every step runs in its own process, so ``ru_maxrss`` is that step's peak; ``base_mb`` is the
same process's RSS after imports, before the step. Datasets are cached in /tmp/posepipe-bench-load.
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_load.py [--sizes 1000 5000 20000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

CACHE = Path("/tmp/posepipe-bench-load")
PER_IMAGE = 3
SIDE = 64
STEPS = ("load", "validate", "evaluate", "train")


def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def make_dataset(n: int) -> Path:
    """A dataset folder with ``n`` images and ``3 n`` instances (written once, then cached)."""
    import cv2

    from pose.data.meta import load_meta

    root = CACHE / f"n{n}"
    ann = root / "annotations" / "train.json"
    if ann.is_file():
        return root
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    ok, jpg = cv2.imencode(".jpg", rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8))
    assert ok
    names = [f"{i:06d}.jpg" for i in range(n)]
    data = jpg.tobytes()
    for name in names:
        (images / name).write_bytes(data)
    m = n * PER_IMAGE
    x0 = rng.uniform(0, SIDE / 2, (m, 1, 1))
    y0 = rng.uniform(0, SIDE / 2, (m, 1, 1))
    kp = np.concatenate([x0, y0], axis=2) + rng.uniform(0, SIDE / 2 - 1, (m, 17, 2))
    vis = np.where(rng.random((m, 17)) < 0.9, 2, 0)
    kp[vis == 0] = 0
    flat = np.concatenate([kp.round(2), vis[..., None]], axis=2).reshape(m, -1)
    lo = np.where(vis[..., None] > 0, kp, np.inf).min(1)
    hi = np.where(vis[..., None] > 0, kp, -np.inf).max(1)
    wh = hi - lo
    meta = load_meta("coco")
    doc = {
        "images": [{"id": i + 1, "file_name": f, "width": SIDE, "height": SIDE} for i, f in enumerate(names)],
        "annotations": [{"id": j + 1, "image_id": j // PER_IMAGE + 1, "category_id": 1, "iscrowd": 0,
                         "bbox": [float(lo[j, 0]), float(lo[j, 1]), float(wh[j, 0]), float(wh[j, 1])],
                         "area": float(wh[j, 0] * wh[j, 1]), "num_keypoints": int((vis[j] > 0).sum()),
                         "keypoints": flat[j].tolist()} for j in range(m)],
        "categories": [{"id": 1, "name": "person", "keypoints": meta.keypoint_names, "skeleton": (meta.skeleton + 1).tolist()}],
    }
    meta.save(root / "meta.yaml")
    tmp = ann.with_suffix(".tmp")
    ann.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(doc))
    tmp.replace(ann)
    return root


def results_from_gt(gt: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Predictions = GT keypoints + 0.5 px noise, one per GT instance, with scores."""
    m, k = gt.keypoints.shape[:2]
    kp = gt.keypoints + rng.normal(0, 0.5, (m, k, 2))
    scores = rng.uniform(0.5, 1.0, (m, k))
    flat = np.concatenate([kp, scores[..., None]], axis=2).reshape(m, -1).round(2)
    return [{"image_id": int(i), "category_id": int(c), "keypoints": f.tolist(), "score": float(s)}
            for i, c, f, s in zip(gt.ann_image_ids, gt.category_ids, flat, scores.mean(1))]


def run_step(step: str, n: int, train_iters: int) -> dict[str, Any]:
    """One measured step in this process; returns seconds, peak and base RSS, and a count."""
    from pose.data.layout import load_dataset

    root = CACHE / f"n{n}"
    extra: dict[str, Any] = {}
    if step == "load":
        base = current_rss_mb()
        t0 = time.perf_counter()
        data, _ = load_dataset(root)
        seconds = time.perf_counter() - t0
        extra["instances"] = len(data.ann_ids)
    elif step == "validate":
        from pose.data.meta import load_meta
        from pose.data.validate import validate

        meta = load_meta(root / "meta.yaml")
        base = current_rss_mb()
        t0 = time.perf_counter()
        report = validate(root / "annotations" / "train.json", root / "images", meta, check_images=True)
        seconds = time.perf_counter() - t0
        extra["findings"] = len(report.findings)
    elif step == "evaluate":
        import tempfile

        from pose.evaluation.coco import evaluate_keypoints

        data, meta = load_dataset(root)
        results = results_from_gt(data, np.random.default_rng(0))
        base = current_rss_mb()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            metrics = evaluate_keypoints(data, results, meta, out_dir=tmp)
            seconds = time.perf_counter() - t0
        extra["AP"] = round(float(metrics["AP"]), 4)
    else:
        seconds, base, extra = train_epoch(root, train_iters)
    return {"seconds": seconds, "peak_mb": rss_mb(), "base_mb": base, **extra}


def train_epoch(root: Path, iters: int) -> tuple[float, float, dict[str, Any]]:
    """Dataset + loader + ``iters`` training steps through the real engine (``fit``), 1 thread."""
    import itertools
    import tempfile

    import torch

    from pose.data.dataset import TopdownDataset
    from pose.data.layout import load_dataset
    from pose.engine.loader import make_loader
    from pose.engine.trainer import Task, fit
    from pose.params import AugConfig, PoseParams, TrainParams
    from pose.recipes.topdown import build_pose_model

    torch.set_num_threads(1)
    params = PoseParams.model_validate({"dataset": str(root), "model": {"preset": "rtmpose-t", "input_size": [32, 32]}})
    base = current_rss_mb()
    t0 = time.perf_counter()
    data, meta = load_dataset(root)
    model = build_pose_model(params, meta)
    dataset = TopdownDataset(data, meta, input_size=model.input_size, train=True, codec=model.codec, aug=AugConfig())
    batch = 64
    full = len(dataset) // batch
    iters = full if iters <= 0 else min(iters, full)

    def loaders(epoch: int) -> Any:
        return itertools.islice(make_loader(dataset, batch_size=batch, workers=0, shuffle=True, seed=0, epoch=epoch, drop_last=True), iters)

    task = Task(model=model, loss=lambda m, b: m(b["image"], b["targets"], mode="loss"), loaders=loaders, iters_per_epoch=iters)
    setup = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        fit(task, TrainParams(epochs=1, lr=1e-3, warmup_iters=1, min_lr_ratio=0.0, ema=True, channels_last=False), work_dir=tmp, device=torch.device("cpu"),
            validate=False, show_progress=False)
        steps = time.perf_counter() - t1
    per_iter = steps / iters
    return setup + steps, base, {"iters": iters, "epoch_iters": full, "setup_s": round(setup, 2), "s_per_iter": round(per_iter, 3),
                                 "epoch_s_extrapolated": round(setup + per_iter * full, 1)}


def _detail(r: dict[str, Any]) -> str:
    if "iters" in r:
        return f"{r['iters']} it x {r['s_per_iter']} s (+{r['setup_s']} s setup); epoch of {r['epoch_iters']} it ~ {r['epoch_s_extrapolated']} s"
    if "AP" in r:
        return f"AP {r['AP']}"
    if "findings" in r:
        return f"{r['findings']} findings"
    return f"{r.get('instances', '')} instances"


def measure(step: str, n: int, train_iters: int) -> dict[str, Any]:
    """Run ``step`` on the ``n``-image set in a fresh process."""
    proc = subprocess.run([sys.executable, __file__, "--step", step, "--n", str(n), "--train-iters", str(train_iters)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{step} on {n} images failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    p.add_argument("--train-iters", type=int, default=30, help="training iterations measured (the epoch time is extrapolated); 0 = one whole epoch")
    p.add_argument("--train-sizes", type=int, nargs="*", default=None, help="sizes to train on (default: the largest)")
    p.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        print(json.dumps(run_step(a.step, a.n, a.train_iters)))
        return
    from common import report

    train_sizes = a.train_sizes if a.train_sizes is not None else [max(a.sizes)]
    rows = []
    for n in a.sizes:
        t0 = time.perf_counter()
        make_dataset(n)
        print(f"dataset n={n}: {time.perf_counter() - t0:.1f} s", flush=True)
        for step in STEPS:
            if step == "train" and n not in train_sizes:
                continue
            r = measure(step, n, a.train_iters)
            rows.append({"step": step, "images": n, "instances": n * PER_IMAGE, "seconds": round(r["seconds"], 3),
                         "peak_rss_mb": round(r["peak_mb"], 1), "base_rss_mb": round(r["base_mb"], 1),
                         "step_rss_mb": round(r["peak_mb"] - r["base_mb"], 1), "detail": _detail(r)})
            print(rows[-1], flush=True)
    growth = {}
    for step in STEPS:
        by_n = {r["images"]: r["seconds"] for r in rows if r["step"] == step}
        if 5000 in by_n and 20000 in by_n:
            growth[f"{step}_20k_over_5k"] = round(by_n[20000] / by_n[5000], 2)
    report("load", rows, title="load test: time and peak RSS per step (own process each)",
           extra={"growth_time_ratio": growth, "per_image_instances": PER_IMAGE, "image_side": SIDE,
                  "train_iters": a.train_iters, "images": "64x64 JPEGs sharing one encoded picture"})
    print("time ratio 20k/5k (4 = linear, 16 = quadratic):", growth)


if __name__ == "__main__":
    main()
