"""COCO bbox mAP / mAP50 / mAP75 / AR of detections, scored by the reference pycocotools.

The detections are first written (atomically) as a COCO results JSON, and *that file* is what
``COCO.loadRes`` + ``COCOeval(iouType="bbox")`` scores: what is scored is what is saved.
Crowd ground truth is ignored by COCOeval as usual.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose.data.coco import CocoData, xyxy_to_xywh
from pose.fileio import write_json

RESULTS_NAME = "bbox_results.json"
#: Flat metric key -> COCOeval ``stats`` index.
STATS = {"bbox_mAP": 0, "bbox_mAP50": 1, "bbox_mAP75": 2, "bbox_AR": 8}
#: The detector's metrics, in that order (what validation records and publishing gates on).
BBOX_KEYS = tuple(STATS)


def results_json(image_ids: Sequence[int], detections: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 category_ids: Sequence[int]) -> list[dict[str, Any]]:
    """COCO bbox results from per-image (boxes xyxy, scores, labels 1..C); ``category_ids[label - 1]``."""
    cats = np.asarray(category_ids, np.int64)
    out: list[dict[str, Any]] = []
    for image_id, (boxes, scores, labels) in zip(image_ids, detections):
        xywh = np.round(xyxy_to_xywh(np.asarray(boxes, np.float32).reshape(-1, 4)).astype(np.float64), 2)
        cat = cats[np.asarray(labels, np.int64) - 1]
        out.extend({"image_id": int(image_id), "category_id": int(c), "bbox": b, "score": round(float(s), 5)}
                   for b, s, c in zip(xywh.tolist(), scores, cat))
    return out


def bbox_stats(gt: CocoData, results_file: str | Path) -> dict[str, float | None]:
    """The flat bbox metrics of a results *file*; -1 from COCOeval (no GT) becomes None."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt.to_json()
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(str(results_file))
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (None if ev.stats[i] < 0 else float(ev.stats[i])) for k, i in STATS.items()}


def evaluate_boxes(gt: CocoData, results: list[dict[str, Any]], *, out_dir: str | Path | None = None) -> dict[str, Any]:
    """bbox metrics of COCO ``results`` on ``gt``, written to ``out_dir/bbox_results.json`` (temp when None).

    Keys: ``bbox_mAP bbox_mAP50 bbox_mAP75 bbox_AR`` (AR@100; None when ``gt`` has no box),
    ``num_gt``, ``num_results``, ``results_file``.
    """
    num_gt = int((~gt.iscrowd).sum())
    with contextlib.ExitStack() as stack:
        folder = Path(out_dir) if out_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        results_file = folder / RESULTS_NAME
        write_json(results_file, results)
        if results:
            stats = bbox_stats(gt, results_file)
        else:
            stats = {k: (0.0 if num_gt else None) for k in STATS}
    return {**stats, "num_gt": num_gt, "num_results": len(results), "results_file": str(results_file) if out_dir is not None else None}
