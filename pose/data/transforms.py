"""Top-down geometry and augmentation: box -> centre/scale, random flip / half-body / shift-scale-rotate,
one affine warp per sample, photometric jitter, and the exact inverse map back to the image.

Conventions (MMPose's, non-UDP):

* Points are in pixel-centre coordinates: pixel ``i`` is centred at ``i``. A horizontal image flip
  therefore maps ``x -> w - 1 - x`` (for keypoints *and* box centres here; MMPose flips box
  centres with ``w - x``, half a pixel apart from its keypoints).
* A crop is ``(center, scale, rotation)``: ``scale`` is the (w, h) of the image region in pixels,
  ``rotation`` in degrees. The affine maps ``center`` to ``(W / 2, H / 2)`` of the input size
  ``(W, H)``, scales by ``W / scale_w`` (the aspect ratio is fixed beforehand, so ``H / scale_h``
  is the same) and rotates so that the image direction ``rotation`` degrees from "up" becomes up.
* A flip is folded into the affine matrix (``image -> input``), so every sample costs exactly one
  ``cv2.warpAffine`` and flipping about the image or about the box centre gives the same crop.

Matrix helpers are vectorised over leading batch axes and accept numpy arrays or torch tensors
where noted, so predictions map back to image coordinates on the device.
"""

from __future__ import annotations

from typing import TypeVar

import cv2
import numpy as np
import torch

from pose.params import AugConfig

#: MMPose's ``bbox_xyxy2cs`` padding for top-down crops.
BBOX_PADDING = 1.25

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


# ----------------------------------------------------------------------------- boxes
def bbox_xyxy_to_cs(bboxes: np.ndarray, padding: float = BBOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """(..., 4) xyxy boxes -> centres (..., 2) and padded scales (..., 2), float32."""
    b = np.asarray(bboxes, np.float32)
    center = (b[..., :2] + b[..., 2:]) * 0.5
    scale = (b[..., 2:] - b[..., :2]) * np.float32(padding)
    return center, scale


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow the short side of (..., 2) scales so that w / h == ``aspect_ratio`` (never shrink)."""
    s = np.asarray(scale, np.float32)
    w, h = s[..., 0], s[..., 1]
    wide = w > h * aspect_ratio
    return np.stack([np.where(wide, w, h * aspect_ratio), np.where(wide, w / aspect_ratio, h)], axis=-1).astype(np.float32)


# ----------------------------------------------------------------------------- affine
def _frame(input_size: tuple[int, int], udp: bool) -> tuple[float, float, float]:
    """(pixels spanned by the crop width, output centre x, y): MMPose's plain vs UDP conventions."""
    w, h = input_size
    return (w - 1.0, (w - 1) * 0.5, (h - 1) * 0.5) if udp else (float(w), w * 0.5, h * 0.5)


def get_affine_matrix(
    center: np.ndarray, scale: np.ndarray, rotation: np.ndarray | float, input_size: tuple[int, int], *, udp: bool = False
) -> np.ndarray:
    """Image -> input (..., 2, 3) float64 matrices for crops ``(center, scale, rotation)``, batched over
    leading axes; closed form of MMPose's ``get_warp_matrix``. With ``udp`` (for the UDP codec) the
    centre maps to ``((W - 1) / 2, (H - 1) / 2)`` and the scale is ``(W - 1) / scale_w``, as MMPose's
    ``get_udp_warp_matrix`` (rotation sign kept as here; augmentation is symmetric)."""
    span, ox, oy = _frame(input_size, udp)
    c = np.asarray(center, np.float64)
    s = span / np.asarray(scale, np.float64)[..., 0]
    r = np.deg2rad(np.asarray(rotation, np.float64))
    cos, sin = np.cos(r) * s, np.sin(r) * s
    cos, sin = np.broadcast_arrays(cos, sin, c[..., 0])[:2]
    out = np.empty(cos.shape + (2, 3), np.float64)
    out[..., 0, 0], out[..., 0, 1] = cos, sin
    out[..., 1, 0], out[..., 1, 1] = -sin, cos
    out[..., 0, 2] = ox - (cos * c[..., 0] + sin * c[..., 1])
    out[..., 1, 2] = oy - (-sin * c[..., 0] + cos * c[..., 1])
    return out


def compose_hflip(matrix: np.ndarray, width: np.ndarray | int) -> np.ndarray:
    """``matrix`` applied after the image flip ``x -> width - 1 - x`` (batched)."""
    m = np.array(matrix, np.float64, copy=True)
    w = np.asarray(width, np.float64)
    m[..., :, 2] += m[..., :, 0] * (w[..., None] - 1.0)
    m[..., :, 0] *= -1.0
    return m


def invert_affine(matrix: ArrayT) -> ArrayT:
    """Inverse of (..., 2, 3) affine matrices (numpy or torch)."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    rows = [ia, ib, -(ia * tx + ib * ty), ic, id_, -(ic * tx + id_ * ty)]
    stack = torch.stack if isinstance(matrix, torch.Tensor) else np.stack
    return stack(rows, -1).reshape(*matrix.shape[:-2], 2, 3)


def apply_affine(points: ArrayT, matrix: ArrayT) -> ArrayT:
    """(..., K, 2) points through (..., 2, 3) matrices (numpy or torch), computed in float64 and
    returned in the points' dtype (and device)."""
    if isinstance(points, torch.Tensor):
        p, m = points.double(), torch.as_tensor(matrix, dtype=torch.float64, device=points.device)
    else:
        p, m = np.asarray(points, np.float64), np.asarray(matrix, np.float64)
    x, y = p[..., 0], p[..., 1]
    out_x = m[..., None, 0, 0] * x + m[..., None, 0, 1] * y + m[..., None, 0, 2]
    out_y = m[..., None, 1, 0] * x + m[..., None, 1, 1] * y + m[..., None, 1, 2]
    if isinstance(points, torch.Tensor):
        return torch.stack([out_x, out_y], -1).to(points.dtype)
    return np.stack([out_x, out_y], -1).astype(points.dtype, copy=False)


def input_to_image(
    points: ArrayT, center: ArrayT, scale: ArrayT, rotation: ArrayT, input_size: tuple[int, int], *, udp: bool = False
) -> ArrayT:
    """Map (B, K, 2) input-space points back to image space for crops ``(center, scale, rotation)``
    of shape (B, 2), (B, 2), (B,). Numpy or torch (stays on the points' device and dtype)."""
    if isinstance(points, torch.Tensor):
        f = dict(dtype=torch.float64, device=points.device)
        c, s, r = (torch.as_tensor(v, **f) for v in (center, scale, rotation))
        r = torch.deg2rad(r)
        cos, sin, lib = torch.cos(r), torch.sin(r), torch
        p = points.to(torch.float64)
    else:
        c, s, r = (np.asarray(v, np.float64) for v in (center, scale, rotation))
        r = np.deg2rad(r)
        cos, sin, lib = np.cos(r), np.sin(r), np
        p = np.asarray(points, np.float64)
    span, ox, oy = _frame(input_size, udp)
    k = s[..., 0:1] / span
    dx = (p[..., 0] - ox) * k
    dy = (p[..., 1] - oy) * k
    x = cos[..., None] * dx - sin[..., None] * dy + c[..., 0:1]
    y = sin[..., None] * dx + cos[..., None] * dy + c[..., 1:2]
    out = lib.stack([x, y], -1)
    return out.to(points.dtype) if isinstance(points, torch.Tensor) else out.astype(points.dtype, copy=False)


def warp(image: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """The one resampling step: ``image`` through a (2, 3) matrix into an (H, W) crop, black border."""
    return cv2.warpAffine(image, matrix, (int(input_size[0]), int(input_size[1])), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


# ----------------------------------------------------------------------------- flips
def flip_keypoints(
    keypoints: np.ndarray, visibility: np.ndarray, width: int | float, flip_indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal image flip of (..., K, 2) keypoints: ``x -> width - 1 - x`` and left/right swapped.

    Unlabelled keypoints (visibility 0) stay at (0, 0)."""
    kp = np.array(keypoints[..., flip_indices, :], np.float32, copy=True)
    vis = np.asarray(visibility)[..., flip_indices]
    kp[..., 0] = np.float32(width - 1) - kp[..., 0]
    kp[vis == 0] = 0.0
    return kp, vis


# ----------------------------------------------------------------------------- random ops
def truncnorm(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """Standard normal samples truncated to [-1, 1] (resampled, not clipped), as MMPose's ``_truncnorm``."""
    out = rng.standard_normal(size)
    bad = np.abs(out) > 1
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 1
    return out


def half_body_box(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    upper_ids: np.ndarray,
    lower_ids: np.ndarray,
    cfg: AugConfig,
    aspect_ratio: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray] | None:
    """With ``cfg.half_body_prob``, a (center, scale) around the labelled upper or lower body of one
    (K, 2) instance with at least ``half_body_min_keypoints`` labelled (MMPose's ``RandomHalfBody``:
    upper body preferred with ``half_body_upper_prob`` when both halves qualify); ``None`` when it
    does not fire or cannot."""
    labelled = visibility > 0
    if labelled.sum() < cfg.half_body_min_keypoints or rng.random() >= cfg.half_body_prob:
        return None
    upper = upper_ids[labelled[upper_ids]]
    lower = lower_ids[labelled[lower_ids]]
    upper_ok, lower_ok = len(upper) >= cfg.half_body_min_upper, len(lower) >= cfg.half_body_min_lower
    prefer_upper = rng.random() < cfg.half_body_upper_prob
    if not (upper_ok or lower_ok):
        return None
    ids = upper if upper_ok and (prefer_upper or not lower_ok) else lower
    pts = keypoints[ids]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center = pts.mean(axis=0).astype(np.float32)
    scale = fix_aspect_ratio(hi - lo, aspect_ratio) * np.float32(cfg.half_body_padding)
    return center, scale


def random_bbox_transform(
    center: np.ndarray, scale: np.ndarray, cfg: AugConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """Random shift, scale and rotation of one crop (MMPose's ``RandomBBoxTransform``)."""
    n = truncnorm(rng, 4)
    p = rng.random(3)
    offset = n[:2] * cfg.shift_factor if p[0] < cfg.shift_prob else np.zeros(2)
    lo, hi = cfg.scale_range
    factor = n[2] * (hi - lo) * 0.5 + (hi + lo) * 0.5 if p[1] < cfg.scale_prob else 1.0
    rotation = float(n[3] * cfg.rotate_factor) if p[2] < cfg.rotate_prob else 0.0
    new_center = (center + offset * scale).astype(np.float32)
    return new_center, (scale * factor).astype(np.float32), rotation


def photometric(image: np.ndarray, cfg: AugConfig, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast, saturation and hue of a BGR uint8 crop (each op independent).

    Brightness and contrast share one 256-entry LUT; saturation blends with the grey image; hue
    rotates the HSV hue channel. Cheap enough to run on the crop, never on the full image."""
    p = rng.random(4)
    u = rng.random(4)
    q = cfg.photometric_prob
    out = image
    alpha = cfg.contrast[0] + u[1] * (cfg.contrast[1] - cfg.contrast[0]) if p[1] < q else 1.0
    beta = (u[0] * 2 - 1) * cfg.brightness if p[0] < q else 0.0
    if alpha != 1.0 or beta != 0.0:
        lut = np.clip(np.arange(256, dtype=np.float32) * alpha + beta, 0, 255).astype(np.uint8)
        out = cv2.LUT(out, lut)
    if p[2] < q:
        sat = cfg.saturation[0] + u[2] * (cfg.saturation[1] - cfg.saturation[0])
        grey = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        out = cv2.addWeighted(out, sat, grey, 1.0 - sat, 0.0)
    if p[3] < q and cfg.hue > 0:
        hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV)
        shift = int(round((u[3] * 2 - 1) * cfg.hue))
        hsv[..., 0] = ((np.arange(256) + shift) % 180).astype(np.uint8)[hsv[..., 0]]
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return out
