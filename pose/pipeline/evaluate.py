"""The ``evaluate`` stage: the pose model on GT boxes and on the detector's boxes, the detector's
own bbox mAP, one flat ``metrics.json`` (``dvc metrics show/diff``), and PNG plots (training
curves, PCK vs threshold) plus the curve as DVC plots data.

Keys: ``AP AP50 AP75 APm APl AR PCK@a AUC EPE NME`` (GT boxes), ``det_AP det_AP50 det_AP75 det_AR``
(pose on detected boxes), ``det_bbox_mAP det_bbox_mAP50 det_bbox_mAP75 det_bbox_AR`` (detector); with
``params/detector.yaml: preset: none`` the GT-box keys only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pose.engine.checkpoint import LATEST, load_checkpoint
from pose.evaluation.keys import STAGE_KEYS, SUMMARY_KEYS
from pose.params import EvalParams
from pose.pipeline.plots import history_series, line_chart, save_png


def _finite(d: dict[str, Any], keys: tuple[str, ...] | list[str], prefix: str = "") -> dict[str, float]:
    return {prefix + k: float(d[k]) for k in keys if isinstance(d.get(k), (int, float)) and math.isfinite(float(d[k]))}


def pck_curve(gt: Any, results: list[dict[str, Any]], meta: Any, thresholds: np.ndarray) -> list[float]:
    """Mean PCK (bbox-normalised) of GT-box ``results`` at each threshold."""
    from pose.evaluation.coco import distance_metrics, parse_results

    d = distance_metrics(gt, parse_results(results, gt), meta, tuple(float(t) for t in thresholds))
    return [float(d.get(f"PCK@{float(t):g}", float("nan"))) for t in thresholds]


def usable_boxes(results: list[dict[str, Any]], score_thr: float) -> list[dict[str, Any]]:
    """Detections worth cropping: score at least ``score_thr`` and a box of positive size."""
    return [r for r in results if r["score"] >= score_thr and r["bbox"][2] > 0 and r["bbox"][3] > 0]


def history(checkpoint: Path) -> list[dict[str, float]]:
    """The trainer history of a run (from ``latest.pth`` beside ``checkpoint`` when present)."""
    path = checkpoint.with_name(LATEST) if checkpoint.with_name(LATEST).is_file() else checkpoint
    return list(load_checkpoint(path).get("history") or [])


def evaluate_pipeline(pose_ckpt: str | Path, det_ckpt: str | Path, dataset: str | Path, params: EvalParams, *,
                      out_dir: str | Path, plots_dir: str | Path, device: str = "auto") -> dict[str, Any]:
    """Score both models on ``params.split`` of ``dataset``; write results under ``out_dir`` and
    PNGs under ``plots_dir`` (both replaced atomically). Returns metrics, curve and histories.
    A ``preset: none`` detector marker (``pose.detection.none``) leaves GT boxes only: no ``det_*`` keys."""
    import torch

    from pose.data.dataset import TopdownDataset
    from pose.data.layout import load_dataset
    from pose.detection.none import is_no_detector
    from pose.engine.runtime import resolve_device
    from pose.evaluation.coco import evaluate_keypoints
    from pose.fileio import atomic_dir
    from pose.recipes.topdown import model_from_checkpoint, predict

    pose_ckpt, det_ckpt = Path(pose_ckpt), Path(det_ckpt)
    dev = resolve_device(device)
    model, meta, _ = model_from_checkpoint(pose_ckpt, device=dev)
    model.flip_test = params.flip
    gt, _ = load_dataset(dataset, split=params.split, meta=None)
    thrs = tuple(float(t) for t in params.pck_thresholds)
    curve_x = np.linspace(0.0, params.curve_max, params.curve_points)
    no_detector = is_no_detector(det_ckpt)
    with torch.inference_mode(), atomic_dir(out_dir) as tmp:
        gt_results = predict(model, TopdownDataset(gt, meta, input_size=model.input_size, train=False), batch_size=params.batch_size)
        on_gt = evaluate_keypoints(gt, gt_results, meta, out_dir=_mk(tmp / "gt_boxes"), pck_thrs=thrs)
        curve_y = pck_curve(gt, gt_results, meta, curve_x)
        det_metrics, det_results = ({}, gt_results) if no_detector else _on_detector(
            model, meta, gt, det_ckpt, dataset, params, tmp, dev)
    metrics = {**_finite(on_gt, [*STAGE_KEYS, *(f"PCK@{t:g}" for t in thrs)]), **det_metrics,
               "num_val_instances": int(on_gt.get("num_gt", 0))}
    curves = {"pose": history(pose_ckpt), "detector": [] if no_detector else history(det_ckpt)}
    _plots(plots_dir, curve_x, curve_y, curves, example_panels(gt, det_results, meta, params.examples))
    return {"metrics": metrics, "curve": [{"threshold": round(float(x), 6), "pck": y} for x, y in zip(curve_x, curve_y)],
            "histories": curves}


def _on_detector(model: Any, meta: Any, gt: Any, det_ckpt: Path, dataset: str | Path, params: EvalParams, tmp: Path,
                 dev: Any) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The detector's bbox metrics and the pose model on its boxes (``det_*`` keys), and those pose results."""
    from pose.data.coco import read_json
    from pose.data.dataset import TopdownDataset
    from pose.detection.evaluate import RESULTS_NAME
    from pose.detection.train import score_detector
    from pose.evaluation.coco import evaluate_keypoints
    from pose.recipes.topdown import predict

    det = score_detector(det_ckpt, dataset=str(dataset), split=params.split, device=str(dev), out_dir=_mk(tmp / "detector"))
    boxes = usable_boxes(read_json(tmp / "detector" / RESULTS_NAME), params.det_score_thr)
    ds = TopdownDataset(gt, meta, input_size=model.input_size, train=False, boxes=boxes)
    det_results = predict(model, ds, batch_size=params.batch_size) if len(ds) else []
    on_det = evaluate_keypoints(gt, det_results, meta, out_dir=_mk(tmp / "det_boxes"))
    metrics = {**_finite(on_det, SUMMARY_KEYS, "det_"),
               **{f"det_{k}": float(v) for k, v in det.items() if k.startswith("bbox_") and isinstance(v, (int, float))},
               "num_detections": int(det.get("num_results", 0))}
    return metrics, det_results


def _plots(plots_dir: str | Path, curve_x: np.ndarray, curve_y: list[float], curves: dict[str, list[dict[str, float]]],
           panels: dict[str, np.ndarray]) -> None:
    """The stage's PNGs (PCK curve, training curves, example panels), replacing ``plots_dir`` atomically."""
    from pose.fileio import atomic_dir

    with atomic_dir(plots_dir) as tmp:
        save_png(tmp / "pck_curve.png", line_chart({"PCK (GT boxes)": (curve_x.tolist(), curve_y)}, title="PCK vs threshold",
                                                   xlabel="threshold (fraction of box size)", ylabel="PCK", ylim=(0.0, 1.0)))
        save_png(tmp / "pose_loss.png", line_chart(history_series(curves["pose"], ["loss"]), title="pose training loss", xlabel="epoch", ylabel="loss"))
        save_png(tmp / "pose_val.png", line_chart(history_series(curves["pose"], ["AP", "PCK@0.05", "AUC"]), title="pose validation",
                                                  xlabel="epoch", ylabel="metric", ylim=(0.0, 1.0)))
        if curves["detector"]:
            save_png(tmp / "detector_loss.png", line_chart(history_series(curves["detector"], ["loss"]), title="detector training loss",
                                                           xlabel="epoch", ylabel="loss"))
        for name, panel in panels.items():
            save_png(tmp / name, panel)


def example_panels(gt: Any, results: list[dict[str, Any]], meta: Any, count: int, *, kpt_thr: float = 0.3) -> dict[str, np.ndarray]:
    """``compare_<image id>.png`` -> ground truth beside the predictions (COCO results, e.g. on
    detector boxes) for the first ``count`` images of ``gt`` that have labelled instances."""
    from pose.data.coco import xywh_to_xyxy
    from pose.data.image import read_image
    from pose.inference.api import FrameResult
    from pose.inference.visualize import compare_panel

    by_image: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        by_image.setdefault(int(r["image_id"]), []).append(r)
    labelled = np.unique(gt.ann_image_ids[gt.num_labelled > 0])
    panels: dict[str, np.ndarray] = {}
    for row in np.flatnonzero(np.isin(gt.image_ids, labelled))[:count]:
        image_id = int(gt.image_ids[row])
        image = read_image(gt.image_path(int(row)), entry=f"images[id={image_id}]")
        mine = by_image.get(image_id, [])
        k = gt.num_keypoints
        flat = np.array([r["keypoints"] for r in mine], np.float32).reshape(len(mine), k, 3)
        boxes = xywh_to_xyxy(np.array([r["bbox"] for r in mine], np.float32).reshape(len(mine), 4))
        result = FrameResult((image.shape[1], image.shape[0]), boxes, np.array([r.get("bbox_score", 1.0) for r in mine], np.float32),
                             flat[..., :2], flat[..., 2])
        sel = gt.ann_image_ids == image_id
        panels[f"compare_{image_id}.png"] = compare_panel(image, gt.keypoints[sel], gt.visibility[sel], result, meta,
                                                          gt_boxes=gt.bboxes[sel], kpt_thr=kpt_thr)
    return panels


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
