"""Vectorised building blocks shared by the codecs.

Encoding runs in numpy (the data path, one call per batch of instances); decoding runs in
torch so that one implementation serves numpy arrays (wrapped without a copy) and tensors on
any device. Nothing here loops over keypoints.

Flips follow the image-flip convention ``x' = w - 1 - x`` for an image of width ``w``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

from pose.errors import ConfigError

Array = TypeVar("Array", np.ndarray, torch.Tensor)
Decoded = tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]

# ------------------------------------------------------------------------------ config


def check_config(codec: object, sizes: Sequence[str], positive: Sequence[str]) -> None:
    """Turn size fields of a frozen codec dataclass into ``(w, h)`` int tuples and check them.

    Raises ``ConfigError`` naming ``codec.<field>``.
    """
    for name in sizes:
        value = getattr(codec, name)
        try:
            size = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            size = ()
        if len(size) != 2 or min(size) < 1 or list(size) != [float(v) for v in value]:
            raise ConfigError(f"expected two positive integers (w, h), got {value!r}", entry=f"codec.{name}")
        object.__setattr__(codec, name, size)
    for name in positive:
        value = getattr(codec, name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0 for v in values):
            raise ConfigError(f"must be positive, got {value!r}", entry=f"codec.{name}")


def resolve_blur(codec: object) -> None:
    """Default ``codec.blur_kernel_size`` from ``codec.sigma``; it must be odd and positive."""
    ks = getattr(codec, "blur_kernel_size")
    if ks is None:
        ks = blur_kernel_size(getattr(codec, "sigma"))
    if not isinstance(ks, int) or ks < 1 or ks % 2 == 0:
        raise ConfigError(f"must be an odd positive integer, got {ks!r}", entry="codec.blur_kernel_size")
    object.__setattr__(codec, "blur_kernel_size", ks)


# ------------------------------------------------------------------------------ encode (numpy)


def check_instances(keypoints: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(N, K, 2)`` keypoints and ``(N, K)`` visibility.

    Returns float32 keypoints with unusable entries zeroed (so NaNs never reach a target)
    and the boolean mask of labelled, finite keypoints.
    """
    kp = np.asarray(keypoints, dtype=np.float32)
    vis = np.asarray(visibility)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {kp.shape}")
    if vis.shape != kp.shape[:2]:
        raise ValueError(f"visibility must have shape {kp.shape[:2]}, got {vis.shape}")
    valid = (vis > 0) & np.isfinite(kp).all(-1)
    return np.where(valid[..., None], kp, np.float32(0)), valid


def within(centres: np.ndarray, length: int, reach: float) -> np.ndarray:
    """True where a target centred at ``centres`` still touches ``[0, length - 1]``."""
    return (centres >= -reach) & (centres <= length - 1 + reach)


def gaussian_1d(
    centres: np.ndarray, length: int, sigma: float, radius: float | None = None
) -> np.ndarray:
    """Unnormalised Gaussians ``exp(-(i - c)^2 / 2 sigma^2)`` over ``i in [0, length)``.

    ``centres`` (N, K) -> (N, K, length) float32; values farther than ``radius`` or below
    1e-12 are zero.
    """
    d = np.arange(length, dtype=np.float32) - centres[..., None].astype(np.float32)
    g = np.exp(d * d * np.float32(-0.5 / sigma**2))
    keep = g >= np.float32(1e-12)  # flush tails whose products would be slow denormals
    if radius is not None:
        keep &= np.abs(d) <= radius
    return g * keep


def gaussian_heatmaps(
    centres: np.ndarray,
    valid: np.ndarray,
    size: tuple[int, int],
    sigma: float,
    radius: float | None,
    reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, H, W) heatmaps (outer products of separable Gaussians) and (N, K) weights.

    ``centres`` (N, K, 2) are in heatmap pixels. A keypoint gets weight 1 when it is valid and
    its target still touches the heatmap (centre at most ``reach`` outside); otherwise weight 0
    and an all-zero heatmap.
    """
    w, h = size
    weights = valid & within(centres[..., 0], w, reach) & within(centres[..., 1], h, reach)
    gx = gaussian_1d(centres[..., 0], w, sigma, radius) * weights[..., None]
    gy = gaussian_1d(centres[..., 1], h, sigma, radius)
    return gy[..., :, None] * gx[..., None, :], weights.astype(np.float32)


# ------------------------------------------------------------------------------ decode (torch)


def as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 tensor view of ``x`` (no copy for contiguous float32 numpy input)."""
    if isinstance(x, torch.Tensor):
        return x.float()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def like(t: torch.Tensor, ref: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Return ``t`` as numpy when the caller passed numpy, else as a tensor."""
    return t if isinstance(ref, torch.Tensor) else t.detach().cpu().numpy()


def check_maps(heatmaps: torch.Tensor, size: tuple[int, int]) -> None:
    w, h = size
    if heatmaps.ndim != 4 or tuple(heatmaps.shape[-2:]) != (h, w):
        raise ValueError(f"heatmaps must have shape (B, K, {h}, {w}), got {tuple(heatmaps.shape)}")


def argmax_last(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum value and its index along the last axis.

    On CPU numpy's SIMD argmax is several times faster than torch's, on the same memory.
    """
    if x.device.type == "cpu" and not x.requires_grad:
        idx = torch.from_numpy(x.numpy().argmax(-1))
    else:
        idx = x.argmax(-1)
    return x.gather(-1, idx.unsqueeze(-1)).squeeze(-1), idx


def heatmap_argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Integer ``x``, ``y`` (B, K) of each map's maximum and the maximum value."""
    w = heatmaps.shape[-1]
    vals, idx = argmax_last(heatmaps.flatten(-2))
    return idx % w, idx // w, vals


def gather(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``maps[b, k, y, x]`` for (B, K) index tensors, clamped to the map (edge padding)."""
    h, w = maps.shape[-2:]
    flat = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
    return maps.flatten(-2).gather(-1, flat.unsqueeze(-1)).squeeze(-1)


def blur_kernel_size(sigma: float) -> int:
    """Odd kernel size whose OpenCV default sigma ``0.3 ((ks - 1) / 2 - 1) + 0.8`` is ``sigma``.

    Gives MMPose's pairs: 11 for sigma 2, 17 for sigma 3.
    """
    return 2 * max(1, round((sigma - 0.8) / 0.3 + 1)) + 1


def blur_kernel(kernel_size: int) -> torch.Tensor:
    """OpenCV's default 1-D Gaussian for ``kernel_size`` (sigma ``0.3 ((ks - 1) / 2 - 1) + 0.8``)."""
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    t = torch.arange(kernel_size, dtype=torch.float32) - kernel_size // 2
    k = torch.exp(-t * t / (2 * sigma**2))
    return k / k.sum()


def blurred_window(
    maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, peak: torch.Tensor, kernel_size: int, half: int = 2
) -> torch.Tensor:
    """The blurred maps on the ``(2 half + 1)^2`` window around each (x, y): (B, K, S, S), S = 2 half + 1.

    Equals MMPose's DARK modulation (zero-padded OpenCV blur, rescaled so the blurred map keeps
    the maximum ``peak`` of the raw map) wherever the blurred map peaks inside the window, as it
    does for unimodal maps; the rescale uses the window's maximum instead of the whole map's.
    Blurring only these windows (a (S + ks - 1)^2 patch per keypoint) instead of every map
    costs a few hundred values per keypoint instead of H * W * ks.
    """
    h, w = maps.shape[-2:]
    size = 2 * half + 1
    reach = half + kernel_size // 2
    offsets = torch.arange(-reach, reach + 1, device=maps.device)
    px = x[..., None, None] + offsets  # (B, K, 1, P)
    py = y[..., None, None] + offsets[:, None]  # (B, K, P, 1)
    inside = ((py >= 0) & (py < h)) & ((px >= 0) & (px < w))
    flat = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).flatten(-2)
    patch = maps.flatten(-2).gather(-1, flat).view(inside.shape) * inside
    k = blur_kernel(kernel_size)
    band = torch.zeros(size, size + kernel_size - 1)
    for q in range(size):
        band[q, q : q + kernel_size] = k
    band = band.to(maps.device)
    win = torch.einsum("qp,bkpr,sr->bkqs", band, patch, band)
    r = kernel_size // 2
    core = inside[..., r : r + size, r : r + size]
    top = torch.where(core, win, torch.zeros_like(win)).amax((-2, -1))
    scale = torch.where(top > 0, peak / top, torch.ones_like(top))
    return win * scale[..., None, None]


def window_at(win: torch.Tensor, x: torch.Tensor, y: torch.Tensor, ox: int, oy: int, size: tuple[int, int]) -> torch.Tensor:
    """``win`` value at map position (x + ox, y + oy) clamped to the map (edge padding)."""
    w, h = size
    half = win.shape[-1] // 2
    cx = (x + ox).clamp(0, w - 1) - x + half
    cy = (y + oy).clamp(0, h - 1) - y + half
    return win.flatten(-2).gather(-1, (cy * win.shape[-1] + cx).unsqueeze(-1)).squeeze(-1)


# ------------------------------------------------------------------------------ flips


def flip_index(length: int, shift: int = 0) -> np.ndarray:
    """Indices that mirror the last axis and move the content ``shift`` bins right.

    Bins vacated by the shift repeat the edge value (as MMPose's ``shift_heatmap``).
    """
    return length - 1 - np.clip(np.arange(length) - shift, 0, length - 1)


def check_flip_indices(flip_indices: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    idx = np.asarray(flip_indices, dtype=np.int64)
    if idx.shape != (k,) or (k and (idx.min() < 0 or idx.max() >= k)):
        raise ConfigError(
            f"flip_indices must be a permutation of {k} keypoints, got shape {idx.shape}",
            entry="flip_indices",
        )
    return idx


def flip_last(x: Array, flip_indices: Sequence[int] | np.ndarray, shift: int = 0) -> Array:
    """Reorder keypoints (axis 1) by ``flip_indices`` and mirror the last axis."""
    idx = check_flip_indices(flip_indices, x.shape[1])
    mirror = flip_index(x.shape[-1], shift)
    if isinstance(x, torch.Tensor):
        idx_t = torch.from_numpy(idx).to(x.device)
        return x.index_select(1, idx_t).index_select(-1, torch.from_numpy(mirror).to(x.device))
    return x[:, idx][..., mirror]


def flip_weights(weights: np.ndarray, flip_indices: Sequence[int] | np.ndarray) -> np.ndarray:
    return weights[:, check_flip_indices(flip_indices, weights.shape[1])]
