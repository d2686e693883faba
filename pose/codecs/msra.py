"""MSRA Gaussian heatmaps (SimpleBaseline / HRNet), optionally with DARK.

Pixel convention: heatmap pixel ``u`` sits at input pixel ``u * s`` with ``s = w / W`` (4 for
256x192 -> 64x48), as in MMPose's ``MSRAHeatmap``.

- encode: a Gaussian centred on the sub-pixel position (DARK's unbiased target), truncated
  at ``3 sigma + 0.5`` pixels, or over the whole map with ``dark=True`` (as MMPose).
  ``round_centres=True`` centres it on the nearest heatmap pixel instead, which is MMPose's
  plain MSRA target; its round trip then errs by up to ``s / 2`` per axis, because a
  symmetric target gives the quarter-pixel step nothing to go on.
- decode: the argmax plus a quarter-pixel step toward the higher neighbour; with
  ``dark=True`` (distribution-aware, Zhang et al. 2020) the map is blurred with the
  sigma-derived kernel, its log taken and the argmax refined by one second-order Taylor
  (Newton) step, as MMPose's ``refine_keypoints_dark`` but over all B*K maps at once.

Flip: reordering keypoints and mirroring W maps heatmap pixel ``u`` to ``W - 1 - u``, which is
input pixel ``w - s - x`` instead of ``w - 1 - x``. ``flip_outputs`` therefore shifts the mirrored
maps one heatmap pixel right (MMPose's ``shift_heatmap``), leaving a bias of ``+1`` input pixel
(``1 / s`` heatmap pixel) in x. With ``round_centres=True`` the flipped targets are exact when
``x mod s == s - 1`` and one heatmap pixel off otherwise. Use UDP when flips must be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pose.codecs import ops


@dataclass(frozen=True)
class MSRAHeatmap:
    """Gaussian heatmap codec; sizes are (w, h)."""

    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0
    dark: bool = False
    round_centres: bool = False
    blur_kernel_size: int | None = None

    name: ClassVar[str] = "msra"

    def __post_init__(self) -> None:
        ops.check_config(self, ("input_size", "heatmap_size"), ("sigma",))
        ops.resolve_blur(self)

    @property
    def scale(self) -> np.ndarray:
        """Input pixels per heatmap pixel, (sx, sy)."""
        return np.asarray(self.input_size, np.float32) / np.asarray(self.heatmap_size, np.float32)

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        """(N, K, 2) input pixels, (N, K) visibility -> heatmaps (N, K, H, W), keypoint_weights (N, K)."""
        kp, valid = ops.check_instances(keypoints, visibility)
        centres = kp / self.scale
        if self.round_centres:
            centres = np.floor(centres + 0.5)
        radius = 3 * self.sigma + 0.5
        heatmaps, weights = ops.gaussian_heatmaps(
            centres, valid, self.heatmap_size, self.sigma,
            radius=None if self.dark else radius, reach=radius,
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, outputs: np.ndarray | torch.Tensor) -> ops.Decoded:
        """(B, K, H, W) heatmaps -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        maps = ops.as_tensor(outputs)
        ops.check_maps(maps, self.heatmap_size)
        x, y, scores = ops.heatmap_argmax(maps)
        if self.dark:
            dx, dy = _dark_offsets(maps, x, y, scores, self.blur_kernel_size)
        else:
            dx, dy = _quarter_offsets(maps, x, y)
        kp = torch.stack((x + dx, y + dy), -1) * torch.as_tensor(self.scale, device=maps.device)
        return ops.like(kp, outputs), ops.like(scores, outputs)

    def flip_outputs(self, outputs: ops.Array, flip_indices: Sequence[int] | np.ndarray) -> ops.Array:
        """Heatmaps of the flipped image -> heatmaps in the original frame (shifted 1 px)."""
        return ops.flip_last(outputs, flip_indices, shift=1)

    def flip(self, encoded: dict[str, np.ndarray], flip_indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Targets of an instance -> (approximately) the targets of its mirror image."""
        return {
            "heatmaps": self.flip_outputs(encoded["heatmaps"], flip_indices),
            "keypoint_weights": ops.flip_weights(encoded["keypoint_weights"], flip_indices),
        }


def _quarter_offsets(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A quarter pixel toward the higher neighbour along x and y (0 at the border)."""
    h, w = maps.shape[-2:]
    dx = ops.gather(maps, x + 1, y) - ops.gather(maps, x - 1, y)
    dy = ops.gather(maps, x, y + 1) - ops.gather(maps, x, y - 1)
    dx = torch.where((x > 0) & (x < w - 1), dx.sign(), torch.zeros_like(dx))
    dy = torch.where((y > 0) & (y < h - 1), dy.sign(), torch.zeros_like(dy))
    return 0.25 * dx, 0.25 * dy


def _dark_offsets(
    maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, peak: torch.Tensor, kernel_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Newton step ``-H^-1 g`` on the log of the blurred map at the argmax.

    Same finite differences (step 2 for the Hessian diagonal) and the same interior guard
    ``1 < x < W - 2`` as MMPose's ``refine_keypoints_dark``.
    """
    h, w = maps.shape[-2:]
    lg = ops.blurred_window(maps, x, y, peak, kernel_size).clamp_min(1e-10).log()

    def at(ox: int, oy: int) -> torch.Tensor:
        return ops.window_at(lg, x, y, ox, oy, (w, h))

    c = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    hxx = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    hyy = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = hxx * hyy - hxy * hxy
    ok = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2) & (det != 0)
    det = torch.where(ok, det, torch.ones_like(det))
    dx = -(hyy * gx - hxy * gy) / det
    dy = -(hxx * gy - hxy * gx) / det
    zero = torch.zeros_like(dx)
    return torch.where(ok, dx, zero), torch.where(ok, dy, zero)
