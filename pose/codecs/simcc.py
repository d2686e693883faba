"""SimCC: keypoints as two 1-D classification targets along x and y (Li et al. 2022, RTMPose).

Pixel convention: bin ``i`` of the x vector sits at input pixel ``i / k`` for split ratio
``k``; vectors have ``round(w k)`` and ``round(h k)`` bins. Targets are Gaussians with per-axis
sigma (in bins; RTMPose uses (4.9, 5.66) at 256x192, k = 2) centred on the exact sub-bin
position. MMPose rounds the centre to a bin first; argmax decoding is the same either way,
and the soft label keeps the sub-bin information for the KL loss. ``normalize=True``
divides by ``sigma sqrt(2 pi)`` as MMPose's option of that name.

Decode: argmax / k; the score is the smaller of the two maxima, as MMPose's
``get_simcc_maximum`` (``vals = min(max_x, max_y)``).

Flip: under ``x' = w - 1 - x`` bin ``i`` maps to ``k (w - 1) - i = Wx - k - i`` while mirroring
the vector maps it to ``Wx - 1 - i``, so ``flip_outputs`` also moves the content ``k - 1`` bins
left (MMPose's ``flip_vectors`` does not, and is off by half a pixel at k = 2). For an integer
k this is exact except the ``k - 1`` vacated last bins, which repeat the edge value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pose.codecs import ops
from pose.errors import ConfigError

SimCCOutputs = tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SimCCLabel:
    """SimCC codec; ``input_size`` is (w, h), ``sigma`` is (sigma_x, sigma_y) in bins."""

    input_size: tuple[int, int] = (192, 256)
    sigma: tuple[float, float] = (4.9, 5.66)
    split_ratio: float = 2.0
    normalize: bool = False

    name: ClassVar[str] = "simcc"

    def __post_init__(self) -> None:
        ops.check_config(self, ("input_size",), ("sigma", "split_ratio"))
        sigma = self.sigma if isinstance(self.sigma, (tuple, list)) else (self.sigma, self.sigma)
        if len(sigma) != 2:
            raise ConfigError(f"expected one or two values, got {self.sigma!r}", entry="codec.sigma")
        object.__setattr__(self, "sigma", (float(sigma[0]), float(sigma[1])))

    @property
    def simcc_size(self) -> tuple[int, int]:
        """Bins along x and y, (Wx, Wy)."""
        w, h = self.input_size
        return round(w * self.split_ratio), round(h * self.split_ratio)

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        """(N, K, 2) input pixels, (N, K) visibility -> simcc_x (N, K, Wx), simcc_y (N, K, Wy),
        keypoint_weights (N, K)."""
        kp, valid = ops.check_instances(keypoints, visibility)
        centres = kp * np.float32(self.split_ratio)
        (wx, wy), (sx, sy) = self.simcc_size, self.sigma
        weights = valid & ops.within(centres[..., 0], wx, 3 * sx) & ops.within(centres[..., 1], wy, 3 * sy)
        target_x = ops.gaussian_1d(centres[..., 0], wx, sx) * weights[..., None]
        target_y = ops.gaussian_1d(centres[..., 1], wy, sy) * weights[..., None]
        if self.normalize:
            target_x /= np.float32(sx * np.sqrt(2 * np.pi))
            target_y /= np.float32(sy * np.sqrt(2 * np.pi))
        return {"simcc_x": target_x, "simcc_y": target_y, "keypoint_weights": weights.astype(np.float32)}

    def decode(self, outputs: SimCCOutputs) -> ops.Decoded:
        """(simcc_x (B, K, Wx), simcc_y (B, K, Wy)) -> keypoints (B, K, 2) in input pixels,
        scores (B, K)."""
        raw_x, raw_y = outputs
        sx, sy = ops.as_tensor(raw_x), ops.as_tensor(raw_y)
        wx, wy = self.simcc_size
        if sx.ndim != 3 or sy.shape[:2] != sx.shape[:2] or sx.shape[-1] != wx or sy.shape[-1] != wy:
            raise ValueError(
                f"SimCC outputs must have shapes (B, K, {wx}) and (B, K, {wy}), "
                f"got {tuple(sx.shape)} and {tuple(sy.shape)}"
            )
        vx, ix = ops.argmax_last(sx)
        vy, iy = ops.argmax_last(sy)
        kp = torch.stack((ix, iy), -1).float() / self.split_ratio
        return ops.like(kp, raw_x), ops.like(torch.minimum(vx, vy), raw_x)

    def flip_outputs(self, outputs: SimCCOutputs, flip_indices: Sequence[int] | np.ndarray) -> SimCCOutputs:
        """(simcc_x, simcc_y) of the flipped image -> the same in the original frame."""
        simcc_x, simcc_y = outputs
        idx = ops.check_flip_indices(flip_indices, simcc_y.shape[1])
        shift = -round(self.split_ratio - 1)
        if isinstance(simcc_y, torch.Tensor):
            flipped_y = simcc_y.index_select(1, torch.from_numpy(idx).to(simcc_y.device))
        else:
            flipped_y = simcc_y[:, idx]
        return ops.flip_last(simcc_x, idx, shift=shift), flipped_y

    def flip(self, encoded: dict[str, np.ndarray], flip_indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Targets of an instance -> the targets of its mirror image (see the module note)."""
        simcc_x, simcc_y = self.flip_outputs((encoded["simcc_x"], encoded["simcc_y"]), flip_indices)
        return {
            "simcc_x": simcc_x,
            "simcc_y": simcc_y,
            "keypoint_weights": ops.flip_weights(encoded["keypoint_weights"], flip_indices),
        }
