"""COCO keypoint evaluation time: 15k ground truths, 20k detections (synthetic, seeded).

Reference on this machine class: pycocotools 2.7 s, faster-coco-eval 1.35 s (not installed).
Ours = parse + rescore + OKS-NMS + dump JSON + pycocotools on the dumped file.

Run: .venv/bin/python benchmarks/bench_eval.py
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.coco import build_coco  # noqa: E402
from pose.data.meta import load_meta  # noqa: E402
from pose.evaluation.coco import evaluate_keypoints, oks_nms, parse_results  # noqa: E402

N_GT, N_DET, PER_IMAGE, K = 15_000, 20_000, 3, 17


def make_data(seed: int = 0) -> tuple[Any, list[dict[str, Any]]]:
    """GT people in 640x480 images; detections = noisy copies + near-duplicates + false positives."""
    rng = np.random.default_rng(seed)
    m = N_GT // PER_IMAGE
    wh = rng.uniform(30, 300, (N_GT, 2))
    xy = rng.uniform(0, 1, (N_GT, 2)) * (np.array([640, 480]) - wh)
    kp = xy[:, None] + rng.uniform(0.1, 0.9, (N_GT, K, 2)) * wh[:, None]
    vis = rng.choice([0, 1, 2], (N_GT, K), p=[0.2, 0.2, 0.6]).astype(np.uint8)
    meta = load_meta("coco")
    cats = [{"id": 1, "name": "person", "keypoints": meta.keypoint_names, "skeleton": []}]
    gt = build_coco(file_names=[f"{i:06d}.jpg" for i in range(m)], widths=np.full(m, 640), heights=np.full(m, 480),
                    ann_image_rows=np.arange(N_GT) // PER_IMAGE, keypoints=kp, visibility=vis, categories=cats)
    n_dup = (N_DET - N_GT) // 2
    src = np.r_[np.arange(N_GT), rng.integers(0, N_GT, n_dup)]
    det = kp[src] + rng.normal(0, 1, (len(src), K, 2)) * wh[src, None] * rng.uniform(0.01, 0.1, (len(src), 1, 1))
    n_fp = N_DET - len(src)
    fp_img = rng.integers(0, m, n_fp)
    fp = rng.uniform(0, 400, (n_fp, K, 2))
    det = np.concatenate([det, fp])
    img_rows = np.r_[src // PER_IMAGE, fp_img]
    kscore = rng.uniform(0, 1, (N_DET, K))
    flat = np.concatenate([det, kscore[..., None]], axis=2).reshape(N_DET, -1).round(2).tolist()
    bscore = rng.uniform(0.3, 1.0, N_DET).round(4)
    results = [{"image_id": int(gt.image_ids[r]), "category_id": 1, "keypoints": f, "score": float(s), "bbox_score": float(s)}
               for r, f, s in zip(img_rows, flat, bscore)]
    return gt, results


def pycocotools_direct(gt: Any, results: list[dict[str, Any]], sigmas: np.ndarray) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt.to_json()
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes([dict(r) for r in results]), iouType="keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def timed(fn: Any, repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(repeats: int = 3) -> None:
    gt, results = make_data()
    meta = load_meta("coco")
    sigmas = meta.sigmas.astype(np.float64)
    t_ref = t_ours = float("inf")
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        t, ap_ref = timed(lambda: pycocotools_direct(gt, results, sigmas), 1)
        t_ref = min(t_ref, t)
        t, m = timed(lambda: evaluate_keypoints(gt, results, meta), 1)
        t_ours = min(t_ours, t)
    pred = parse_results(results, gt)
    t_parse, _ = timed(lambda: parse_results(results, gt))
    t_nms, keep = timed(lambda: oks_nms(pred.keypoints, pred.scores, pred.areas, pred.image_ids, sigmas))
    rows = [
        {"step": "pycocotools direct (in-memory results, no rescore/NMS)", "seconds": round(t_ref, 3), "AP": round(ap_ref, 4)},
        {"step": "ours: evaluate_keypoints (parse+rescore+NMS+dump+COCOeval)", "seconds": round(t_ours, 3), "AP": round(m["AP"], 4)},
        {"step": "  overhead over pycocotools", "seconds": round(t_ours - t_ref, 3), "AP": "-"},
        {"step": "  parse + check results", "seconds": round(t_parse, 3), "AP": "-"},
        {"step": f"  OKS-NMS alone ({N_DET} -> {len(keep)})", "seconds": round(t_nms, 3), "AP": "-"},
    ]
    report("eval", rows, title=f"COCO keypoint eval, {N_GT} GT / {N_DET} detections, best of {repeats}",
           extra={"num_gt": N_GT, "num_det": N_DET, "after_nms": int(m["num_after_nms"]),
                  "reference_s": {"pycocotools": 2.7, "faster-coco-eval": 1.35}})
    print("reference on a quiet machine of this class: pycocotools 2.7 s, faster-coco-eval 1.35 s (not installed)")


if __name__ == "__main__":
    main()
