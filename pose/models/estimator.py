"""Top-down pose estimator: preprocessing + backbone + head + codec + loss in one module.

Inputs are uint8 (or float, 0-255) image crops (B, 3, H, W) from the dataset, in RGB order
by default (``TopdownDataset``'s contract); ``channel_order="bgr"`` swaps BGR to RGB first.
Normalisation runs on the model's device, so data loaders move 4x fewer bytes.

Modes (``forward(inputs, targets=None, mode=...)``):

* ``"tensor"``: preprocessing + network, the head's raw outputs (a tensor or a tuple of
  tensors). This is what ONNX export traces, normalisation included.
* ``"loss"``: ``{"loss": scalar}`` against the codec targets (``targets`` as batched by the
  data loader: the head's ``target_keys`` plus ``keypoint_weights``).
* ``"predict"``: ``(keypoints (B, K, 2) in input pixels, scores (B, K))`` via the codec's
  decode; with ``flip_test`` the mirrored batch runs in the same forward, its outputs are
  mapped back with ``codec.flip_outputs`` (reorder keypoints, mirror, and the codec's shift:
  MMPose's ``shift_heatmap`` for MSRA) and averaged with the plain ones before decoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pose.codecs import Codec
from pose.errors import ConfigError

# ImageNet mean / std in RGB order, on the 0-255 scale (MMPose's PoseDataPreprocessor).
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)

Mode = Literal["tensor", "loss", "predict"]
Outputs = torch.Tensor | tuple[torch.Tensor, ...]


class TopdownPoseEstimator(nn.Module):
    """Backbone -> head, with the codec that defines the head's targets and decoding."""

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        codec: Codec,
        loss: nn.Module,
        *,
        flip_indices: Sequence[int] | np.ndarray | None = None,
        flip_test: bool = True,
        channel_order: Literal["rgb", "bgr"] = "rgb",
        mean: Sequence[float] = MEAN,
        std: Sequence[float] = STD,
    ) -> None:
        super().__init__()
        if channel_order not in ("rgb", "bgr"):
            raise ConfigError(f"must be 'rgb' or 'bgr', got {channel_order!r}", entry="model.channel_order")
        self.backbone, self.head, self.codec, self.loss_fn = backbone, head, codec, loss
        self.input_size: tuple[int, int] = tuple(codec.input_size)  # type: ignore[assignment]
        self.flip_test = flip_test
        self.flip_indices = None if flip_indices is None else [int(i) for i in flip_indices]
        self.bgr_to_rgb = channel_order == "bgr"
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("scale", 1.0 / std_t, persistent=False)
        self.register_buffer("shift", -torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) / std_t, persistent=False)

    def preprocess(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) 0-255 images -> normalised float32 RGB on the model's device."""
        x = inputs.to(self.scale.device, non_blocking=True)
        if self.bgr_to_rgb:
            x = x.flip(1)
        return torch.addcmul(self.shift, x.float(), self.scale)

    def network(self, x: torch.Tensor) -> Outputs:
        """Normalised images -> raw head outputs."""
        return self.head(self.backbone(x))

    def forward(self, inputs: torch.Tensor, targets: Mapping[str, Any] | None = None, mode: Mode = "tensor") -> Any:
        if mode == "tensor":
            return self.network(self.preprocess(inputs))
        if mode == "loss":
            if targets is None:
                raise ValueError("mode='loss' needs targets")
            return self.loss(inputs, targets)
        if mode == "predict":
            return self.predict(inputs)
        raise ValueError(f"unknown mode {mode!r}; use 'tensor', 'loss' or 'predict'")

    def loss(self, inputs: torch.Tensor, targets: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        outputs = self.network(self.preprocess(inputs))
        device = self.scale.device
        keys = self.head.target_keys
        missing = [k for k in (*keys, "keypoint_weights") if k not in targets]
        if missing:
            raise ValueError(f"targets lack {missing}; the head needs {list(keys)} and keypoint_weights")
        wanted = [torch.as_tensor(targets[k], device=device).float() for k in keys]
        weights = torch.as_tensor(targets["keypoint_weights"], device=device).float()
        target = wanted[0] if len(wanted) == 1 else tuple(wanted)
        return {"loss": self.loss_fn(outputs, target, weights)}

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) in input pixels and scores (B, K), flip-tested when enabled."""
        return self.codec.decode(self.predict_outputs(inputs))

    @torch.no_grad()
    def predict_outputs(self, inputs: torch.Tensor) -> Outputs:
        """Raw head outputs that ``predict`` decodes: with the flip test, the mean of the plain
        outputs and the mirrored batch's outputs mapped back by ``codec.flip_outputs``."""
        x = self.preprocess(inputs)
        if not (self.flip_test and self.flip_indices is not None):
            return self.network(x)
        b = x.shape[0]
        both = self.network(torch.cat((x, x.flip(-1)), 0))
        if isinstance(both, torch.Tensor):
            return 0.5 * (both[:b] + self.codec.flip_outputs(both[b:], self.flip_indices))
        back = self.codec.flip_outputs(tuple(o[b:] for o in both), self.flip_indices)
        return tuple(0.5 * (o[:b] + m) for o, m in zip(both, back))
