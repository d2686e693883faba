"""Drawing primitives: skeletons, keypoints and boxes in the meta's colours (images are BGR).

Used by dataset previews and the validator's flip check here, and by inference visualisation
above; kept free of anything but numpy and OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose.data.meta import DatasetMeta


def _bgr(rgb: np.ndarray) -> tuple[int, int, int]:
    return int(rgb[2]), int(rgb[1]), int(rgb[0])


def draw_instances(
    image: np.ndarray,
    keypoints: np.ndarray,
    visibility: np.ndarray,
    meta: DatasetMeta,
    *,
    bboxes: np.ndarray | None = None,
    radius: int = 3,
    thickness: int = 2,
    show_index: bool = False,
    box_color: tuple[int, int, int] = (0, 255, 255),
) -> np.ndarray:
    """Draw (N, K, 2) keypoints with (N, K) visibility/score mask (> 0 is drawn) on a copy of ``image``.

    Occluded keypoints (visibility 1) are drawn hollow, visible ones (2 or a score) filled.
    """
    out = np.ascontiguousarray(image.copy())
    kps = np.asarray(keypoints, np.float32).reshape(-1, meta.num_keypoints, 2)
    vis = np.asarray(visibility).reshape(-1, meta.num_keypoints)
    if bboxes is not None:
        for b in np.asarray(bboxes, np.float32).reshape(-1, 4):
            cv2.rectangle(out, (int(round(b[0])), int(round(b[1]))), (int(round(b[2])), int(round(b[3]))), box_color, 1, cv2.LINE_AA)
    for kp, v in zip(kps, vis):
        pts = np.round(kp).astype(np.int32)
        for (a, b), col in zip(meta.skeleton, meta.skeleton_colors):
            if v[a] > 0 and v[b] > 0:
                cv2.line(out, tuple(pts[a].tolist()), tuple(pts[b].tolist()), _bgr(col), thickness, cv2.LINE_AA)
        for k in np.flatnonzero(v > 0):
            fill = -1 if v[k] != 1 else 1
            cv2.circle(out, tuple(pts[k].tolist()), radius, _bgr(meta.keypoint_colors[k]), fill, cv2.LINE_AA)
            if show_index:
                cv2.putText(out, str(k), (int(pts[k][0]) + 3, int(pts[k][1]) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``image`` with ``text`` in a dark band at the top."""
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(out, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def fit(image: np.ndarray, size: int) -> np.ndarray:
    """Letterbox ``image`` into a ``size`` x ``size`` tile."""
    h, w = image.shape[:2]
    s = size / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    tile = np.zeros((size, size, 3), np.uint8)
    y0, x0 = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
    tile[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return tile


def grid(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    """Tile equally sized images row by row (blank tiles fill the last row)."""
    if not tiles:
        raise ValueError("no tiles")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = t
    return out
