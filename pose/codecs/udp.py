"""UDP Gaussian heatmaps (Huang et al. 2020, "unbiased data processing").

Pixel convention: heatmap pixel ``u`` sits at input pixel ``u * s`` with
``s = (w - 1) / (W - 1)``, so the first and last pixel centres of both grids coincide. The
Gaussian is centred on the sub-pixel position and truncated at ``3 sigma + 0.5`` pixels (the
same pixels MMPose's window around the rounded centre keeps). Decoding is MMPose's
``refine_keypoints_dark_udp`` (blur, clip to [1e-3, 50], log, one Newton step with unit-step
finite differences and edge padding) over all B*K maps at once.

Unlike MMPose, decoding scales back by ``(w - 1) / (W - 1)`` (the encode scale) rather than
``w / (W - 1)``; MMPose's mismatch is up to 1 input pixel at the far edge. It also skips the
Newton step along an axis where the argmax lies on the border (see ``_udp_offsets``).

Flip: under ``x' = w - 1 - x`` heatmap pixel ``u`` maps to ``W - 1 - u`` exactly, so mirroring W
and reordering keypoints turns the targets of an instance into the targets of its mirror image
(no shift, exact up to float rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pose.codecs import ops
from pose.errors import ConfigError


@dataclass(frozen=True)
class UDPHeatmap:
    """Unbiased Gaussian heatmap codec; sizes are (w, h)."""

    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0
    blur_kernel_size: int | None = None

    name: ClassVar[str] = "udp"

    def __post_init__(self) -> None:
        ops.check_config(self, ("input_size", "heatmap_size"), ("sigma",))
        if min(self.heatmap_size) < 2:
            raise ConfigError("UDP needs a heatmap of at least 2x2", entry="codec.heatmap_size")
        ops.resolve_blur(self)

    @property
    def scale(self) -> np.ndarray:
        """Input pixels per heatmap pixel, (sx, sy)."""
        return (np.asarray(self.input_size, np.float32) - 1) / (np.asarray(self.heatmap_size, np.float32) - 1)

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        """(N, K, 2) input pixels, (N, K) visibility -> heatmaps (N, K, H, W), keypoint_weights (N, K)."""
        kp, valid = ops.check_instances(keypoints, visibility)
        radius = 3 * self.sigma + 0.5
        heatmaps, weights = ops.gaussian_heatmaps(
            kp / self.scale, valid, self.heatmap_size, self.sigma, radius=radius, reach=radius
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, outputs: np.ndarray | torch.Tensor) -> ops.Decoded:
        """(B, K, H, W) heatmaps -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        maps = ops.as_tensor(outputs)
        ops.check_maps(maps, self.heatmap_size)
        x, y, scores = ops.heatmap_argmax(maps)
        dx, dy = _udp_offsets(maps, x, y, scores, self.blur_kernel_size)
        kp = torch.stack((x + dx, y + dy), -1) * torch.as_tensor(self.scale, device=maps.device)
        return ops.like(kp, outputs), ops.like(scores, outputs)

    def flip_outputs(self, outputs: ops.Array, flip_indices: Sequence[int] | np.ndarray) -> ops.Array:
        """Heatmaps of the flipped image -> heatmaps in the original frame."""
        return ops.flip_last(outputs, flip_indices)

    def flip(self, encoded: dict[str, np.ndarray], flip_indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Targets of an instance -> the targets of its mirror image (exact)."""
        return {
            "heatmaps": self.flip_outputs(encoded["heatmaps"], flip_indices),
            "keypoint_weights": ops.flip_weights(encoded["keypoint_weights"], flip_indices),
        }


def _udp_offsets(
    maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, peak: torch.Tensor, kernel_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Newton step ``-(H + eps I)^-1 g`` on the clipped log of the blurred map at the argmax.

    Along an axis where the argmax sits on the border the step is skipped: edge padding makes
    MMPose's step there a constant half pixel outward, off the map.
    """
    h, w = maps.shape[-2:]
    lg = ops.blurred_window(maps, x, y, peak, kernel_size, half=1).clamp(1e-3, 50.0).log()

    def at(ox: int, oy: int) -> torch.Tensor:
        return ops.window_at(lg, x, y, ox, oy, (w, h))

    c, xp, xm, yp, ym = at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
    gx = 0.5 * (xp - xm)
    gy = 0.5 * (yp - ym)
    eps = torch.finfo(torch.float32).eps
    hxx = xp - 2 * c + xm + eps
    hyy = yp - 2 * c + ym + eps
    hxy = 0.5 * (at(1, 1) - xp - yp + 2 * c - xm - ym + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    ok = det != 0
    det = torch.where(ok, det, torch.ones_like(det))
    zero = torch.zeros_like(det)
    dx = torch.where(ok & (x > 0) & (x < w - 1), -(hyy * gx - hxy * gy) / det, zero)
    dy = torch.where(ok & (y > 0) & (y < h - 1), -(hxx * gy - hxy * gx) / det, zero)
    return dx, dy
