"""Helpers shared by the codec tests (imported, not a test module)."""

from __future__ import annotations

import cv2
import numpy as np
from pose.data.meta import load_meta

W, H = 192, 256


def random_keypoints(n: int, k: int, margin: float, seed: int = 0, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """(n, k, 2) float32 sub-pixel keypoints at least ``margin`` input pixels inside the image."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = rng.uniform(margin, w - 1 - margin, (n, k))
    y = rng.uniform(margin, h - 1 - margin, (n, k))
    return np.stack([x, y], -1).astype(np.float32)


def flip_keypoints(kp: np.ndarray, vis: np.ndarray, flip_indices: np.ndarray, w: int = W) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints of the horizontally flipped image (``x' = w - 1 - x``), partners swapped."""
    out = kp[:, flip_indices].copy()
    out[..., 0] = w - 1 - out[..., 0]
    return out, vis[:, flip_indices]


COCO_FLIP = load_meta("coco").flip_indices


def mmpose_blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """MMPose's ``gaussian_blur``: zero-pad, cv2.GaussianBlur, rescale to the old maximum."""
    border = (kernel - 1) // 2
    out = heatmaps.copy()
    for k in range(len(out)):
        dr = np.zeros((out.shape[1] + 2 * border, out.shape[2] + 2 * border), np.float32)
        dr[border:-border, border:-border] = out[k]
        dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
        blurred = dr[border:-border, border:-border]
        out[k] = blurred * out[k].max() / blurred.max()
    return out


def mmpose_dark(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Per-keypoint transcription of MMPose's argmax + ``refine_keypoints_dark`` on (K, H, W)."""
    k_, h, w = heatmaps.shape
    lg = np.log(np.maximum(mmpose_blur(heatmaps, kernel), 1e-10))
    out = np.zeros((k_, 2), np.float64)
    for k in range(k_):
        y, x = np.unravel_index(np.argmax(heatmaps[k]), (h, w))
        out[k] = x, y
        m = lg[k]
        if 1 < x < w - 2 and 1 < y < h - 2:
            g = np.array([0.5 * (m[y, x + 1] - m[y, x - 1]), 0.5 * (m[y + 1, x] - m[y - 1, x])])
            dxx = 0.25 * (m[y, x + 2] - 2 * m[y, x] + m[y, x - 2])
            dxy = 0.25 * (m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
            dyy = 0.25 * (m[y + 2, x] - 2 * m[y, x] + m[y - 2, x])
            if dxx * dyy - dxy**2 != 0:
                out[k] -= np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ g
    return out


def mmpose_dark_udp(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """Per-keypoint transcription of MMPose's argmax + ``refine_keypoints_dark_udp`` on (K, H, W)."""
    k_, h, w = heatmaps.shape
    lg = np.log(np.clip(mmpose_blur(heatmaps, kernel), 1e-3, 50.0))
    out = np.zeros((k_, 2), np.float64)
    for k in range(k_):
        y, x = np.unravel_index(np.argmax(heatmaps[k]), (h, w))
        m = np.pad(lg[k], 1, mode="edge")
        px, py = x + 1, y + 1
        c, xp, xm, yp, ym = m[py, px], m[py, px + 1], m[py, px - 1], m[py + 1, px], m[py - 1, px]
        g = np.array([0.5 * (xp - xm), 0.5 * (yp - ym)])
        dxy = 0.5 * (m[py + 1, px + 1] - xp - yp + 2 * c - xm - ym + m[py - 1, px - 1])
        hess = np.array([[xp - 2 * c + xm, dxy], [dxy, yp - 2 * c + ym]])
        out[k] = np.array([x, y]) - np.linalg.inv(hess + np.finfo(np.float32).eps * np.eye(2)) @ g
    return out


def noisy_predictions(codec, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets of random keypoints plus noise: (n, K, H, W) prediction-like heatmaps, keypoints."""
    kp = random_keypoints(n, 17, margin=4, seed=seed)
    maps = codec.encode(kp, np.full(kp.shape[:2], 2))["heatmaps"]
    noise = np.random.default_rng(seed).normal(0, 0.02, maps.shape).astype(np.float32)
    return maps + noise, kp
