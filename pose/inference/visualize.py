"""Draw inference results: skeletons and keypoints in the meta's colours (``pose.data.draw``),
boxes, an optional heatmap overlay, and a ground truth vs prediction panel for reports.

Images are BGR uint8; every function returns a new image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from pose.data.draw import draw_instances, label
from pose.data.meta import DatasetMeta
from pose.inference.api import FrameResult


def score_visibility(scores: np.ndarray, kpt_thr: float) -> np.ndarray:
    """(N, K) keypoint scores -> a drawing mask: 2 (drawn, filled) above ``kpt_thr``, 0 (hidden) else."""
    return np.where(np.asarray(scores) > kpt_thr, 2, 0).astype(np.uint8)


def heatmap_canvas(result: FrameResult) -> np.ndarray:
    """(H, W) float32 in [0, 1]: per instance the max over joints, normalised to its peak and
    warped back into the image; the max over instances."""
    w, h = result.image_size
    canvas = np.zeros((h, w), np.float32)
    if result.heatmaps is None or result.heatmap_matrices is None:
        raise ValueError("the result carries no heatmaps (estimate with heatmaps=True)")
    for maps, matrix in zip(result.heatmaps, result.heatmap_matrices):
        m = np.clip(maps.max(axis=0), 0, None).astype(np.float32)
        peak = float(m.max())
        if peak <= 0:
            continue
        back = cv2.warpAffine(m / peak, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        np.maximum(canvas, back, out=canvas)
    return canvas


def overlay_heatmap(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend a JET-coloured (H, W) [0, 1] map over ``image``, weighted by the map itself so cold
    regions keep the image."""
    colour = cv2.applyColorMap(np.round(np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    weight = (alpha * np.clip(heat, 0, 1))[..., None]
    return np.round(image.astype(np.float32) * (1 - weight) + colour * weight).astype(np.uint8)


@dataclass(frozen=True)
class DrawOptions:
    """How ``draw_result`` draws: keypoints scoring <= ``kpt_thr`` are hidden; sizes in pixels."""

    kpt_thr: float = 0.3
    radius: int = 3
    thickness: int = 2
    draw_bbox: bool = True
    draw_heatmap: bool = False
    show_kpt_idx: bool = False


def draw_result(image: np.ndarray, result: FrameResult, meta: DatasetMeta, options: DrawOptions | None = None,
                **changes: Any) -> np.ndarray:
    """One frame's predictions drawn on a copy of ``image`` as ``options`` say (``changes``: fields of
    ``DrawOptions`` to override, e.g. ``draw_bbox=False``); a tracked result gets its track ids
    written at the boxes' top-left corners."""
    o = replace(options or DrawOptions(), **changes)
    base = overlay_heatmap(image, heatmap_canvas(result)) if o.draw_heatmap else image
    out = draw_instances(base, result.keypoints, score_visibility(result.keypoint_scores, o.kpt_thr), meta,
                         bboxes=result.boxes if o.draw_bbox and len(result) else None, radius=o.radius, thickness=o.thickness,
                         show_index=o.show_kpt_idx)
    return draw_track_ids(out, result) if result.track_ids is not None else out


def draw_track_ids(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """``#id`` of each instance, white on black, at its box's top-left corner (in place)."""
    for box, tid in zip(result.boxes, result.track_ids if result.track_ids is not None else ()):
        x, y = int(max(box[0], 0)), int(max(box[1], 0))
        text = f"#{int(tid)}"
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(image, (x, y), (x + w + 4, y + h + 6), (0, 0, 0), -1)
        cv2.putText(image, text, (x + 2, y + h + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def compare_panel(
    image: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_visibility: np.ndarray,
    result: FrameResult,
    meta: DatasetMeta,
    *,
    gt_boxes: np.ndarray | None = None,
    kpt_thr: float = 0.3,
    radius: int = 3,
    thickness: int = 2,
) -> np.ndarray:
    """Ground truth (left) beside the prediction (right), same size as ``image`` each, labelled."""
    gt = draw_instances(image, gt_keypoints, gt_visibility, meta, bboxes=gt_boxes, radius=radius, thickness=thickness)
    pred = draw_result(image, result, meta, kpt_thr=kpt_thr, radius=radius, thickness=thickness, draw_bbox=gt_boxes is not None)
    return np.hstack([label(gt, "ground truth"), label(pred, f"prediction (kpt > {kpt_thr:g})")])
