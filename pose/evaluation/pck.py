"""Distance metrics on GT-matched predictions: PCK, PCKh, AUC, EPE, NME (vectorised).

Definitions follow MMPose's ``mmpose.evaluation.functional`` so numbers are comparable:

- A keypoint takes part when it is labelled in the GT (visibility > 0) and its instance has a
  positive normaliser; everything else is ignored, never counted as a miss.
- PCK@a: per keypoint type, the fraction of its distances ``||pred - gt|| / norm < a``; the
  reported value is the mean over keypoint types that took part (MMPose's ``avg_acc``).
  ``bbox`` normaliser: ``max(w, h)`` of the GT box (MMPose reads ``max(bbox[2:])`` off an
  xyxy box, i.e. the bottom-right corner; we use the box size, which is what it means).
- PCKh@a: normaliser is the head segment ``||head_top - upper_neck||``. MMPose uses MPII's
  annotated head box (0.6 x its diagonal), which COCO files do not carry; the head segment is
  the closest keypoint-only stand-in, so PCKh here is comparable across our runs, not with MPII's
  official numbers.
- AUC: mean PCK over ``num_thrs`` thresholds ``0, 1/num_thrs, ...`` with a fixed pixel
  normaliser (``norm_factor=30`` px, 20 thresholds: MMPose's ``AUC`` defaults), i.e. the area
  under the PCK curve from 0 to 30 px. The comparison is strict (``<``), so the 0 px threshold
  counts nothing and a perfect prediction scores 19/20 = 0.95, as in MMPose.
- EPE: mean pixel distance over all participating keypoints (micro average).
- NME: mean normalised distance over all participating keypoints; normaliser per instance
  (GT box size ``max(w, h)`` by default, or :func:`keypoint_pair_size` for inter-ocular).
"""

from __future__ import annotations

import numpy as np

#: MMPose's ``AUC`` metric defaults: a 30 px normaliser and 20 thresholds.
AUC_NORM_PX = 30.0
AUC_THRESHOLDS = 20


def bbox_size(bboxes: np.ndarray) -> np.ndarray:
    """(N,) ``max(w, h)`` of xyxy boxes."""
    b = np.asarray(bboxes, np.float64)
    return np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])


def keypoint_pair_size(gt: np.ndarray, i: int, j: int) -> np.ndarray:
    """(N,) distance between GT keypoints ``i`` and ``j`` (head segment, inter-ocular ...)."""
    g = np.asarray(gt, np.float64)
    return np.linalg.norm(g[:, i] - g[:, j], axis=-1)


def normalised_distances(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray | float) -> np.ndarray:
    """(N, K) ``||pred - gt|| / norm``; NaN where the keypoint does not take part."""
    p = np.asarray(pred, np.float64)
    g = np.asarray(gt, np.float64)
    n = np.broadcast_to(np.asarray(norm, np.float64), (p.shape[0],))
    ok = np.asarray(mask, bool) & (n > 0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.linalg.norm(p - g, axis=-1) / n[:, None]
    return np.where(ok, d, np.nan)


def pck_from_distances(dist: np.ndarray, thr: float | np.ndarray) -> tuple[np.ndarray, float]:
    """Per-keypoint PCK (K,) (NaN where no keypoint took part) and their mean, at ``thr``.

    ``thr`` may be an array of T thresholds; the results then gain a leading T axis.
    """
    t = np.asarray(thr, np.float64)
    valid = ~np.isnan(dist)
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore"):
        hits = (dist[None] < t.reshape(-1, 1, 1)) & valid[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        per_kpt = hits.sum(axis=1) / np.where(count > 0, count, np.nan)
    used = count > 0
    avg = per_kpt[:, used].mean(axis=1) if used.any() else np.zeros(t.size)
    if t.ndim == 0:
        return per_kpt[0], float(avg[0])
    return per_kpt, avg


def pck(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray | float, thr: float) -> float:
    """Mean over keypoint types of the fraction within ``thr * norm`` (MMPose's ``avg_acc``)."""
    return pck_from_distances(normalised_distances(pred, gt, mask, norm), thr)[1]


def auc(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: float = AUC_NORM_PX, num_thrs: int = AUC_THRESHOLDS
) -> float:
    """Area under the PCK curve over thresholds ``i / num_thrs`` of a fixed ``norm_factor``."""
    dist = normalised_distances(pred, gt, mask, norm_factor)
    _, avg = pck_from_distances(dist, np.arange(num_thrs) / num_thrs)
    return float(np.mean(avg))


def epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """End-point error: mean pixel distance over participating keypoints (0 if none)."""
    d = normalised_distances(pred, gt, mask, 1.0)
    return float(np.nanmean(d)) if (~np.isnan(d)).any() else 0.0


def nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray | float) -> float:
    """Normalised mean error over participating keypoints (0 if none)."""
    d = normalised_distances(pred, gt, mask, norm)
    return float(np.nanmean(d)) if (~np.isnan(d)).any() else 0.0
