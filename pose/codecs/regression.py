"""Direct regression: keypoints as coordinates normalised by the input size.

Pixel convention: ``x / w`` and ``y / h`` (MMPose's ``RegressionLabel``), so pixel 0 is 0.0
and the targets of a keypoint inside the input lie in [0, 1); keypoints outside [0, 1] get
weight 0. Decoding multiplies back; a plain regression head has no confidence, so the
scores are ones.

Flip: ``x' = w - 1 - x`` becomes ``x' / w = (w - 1) / w - x / w`` (MMPose's
``flip_coordinates(shift_coords=True)``): exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from pose.codecs import ops


@dataclass(frozen=True)
class RegressionLabel:
    """Normalised-coordinate codec; ``input_size`` is (w, h)."""

    input_size: tuple[int, int] = (192, 256)

    name: ClassVar[str] = "regression"

    def __post_init__(self) -> None:
        ops.check_config(self, ("input_size",), ())

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
        """(N, K, 2) input pixels, (N, K) visibility -> coords (N, K, 2), keypoint_weights (N, K)."""
        kp, valid = ops.check_instances(keypoints, visibility)
        coords = kp / np.asarray(self.input_size, np.float32)
        weights = valid & ((coords >= 0) & (coords <= 1)).all(-1)
        return {"coords": coords, "keypoint_weights": weights.astype(np.float32)}

    def decode(self, outputs: np.ndarray | torch.Tensor) -> ops.Decoded:
        """(B, K, 2) normalised coordinates -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        coords = ops.as_tensor(outputs)
        if coords.ndim != 3 or coords.shape[-1] != 2:
            raise ValueError(f"regression outputs must have shape (B, K, 2), got {tuple(coords.shape)}")
        kp = coords * torch.tensor(self.input_size, dtype=torch.float32, device=coords.device)
        return ops.like(kp, outputs), ops.like(torch.ones_like(coords[..., 0]), outputs)

    def flip_outputs(self, outputs: ops.Array, flip_indices: Sequence[int] | np.ndarray) -> ops.Array:
        """Coordinates predicted on the flipped image -> coordinates in the original frame."""
        idx = ops.check_flip_indices(flip_indices, outputs.shape[1])
        w = self.input_size[0]
        if isinstance(outputs, torch.Tensor):
            out = outputs.index_select(1, torch.from_numpy(idx).to(outputs.device)).clone()
        else:
            out = outputs[:, idx].copy()
        out[..., 0] = (w - 1) / w - out[..., 0]
        return out

    def flip(self, encoded: dict[str, np.ndarray], flip_indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """Targets of an instance -> the targets of its mirror image (exact where weight > 0)."""
        return {
            "coords": self.flip_outputs(encoded["coords"], flip_indices),
            "keypoint_weights": ops.flip_weights(encoded["keypoint_weights"], flip_indices),
        }
