"""Keypoint codecs: targets for training (``encode``, numpy) and keypoints from model outputs
(``decode``, torch or numpy), vectorised over instances and keypoints.

Every codec is a frozen dataclass whose first field is ``input_size`` (w, h). Input-image flips
use ``x' = w - 1 - x``; each module documents how exactly its targets follow that flip.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar, Protocol

import numpy as np

from pose.codecs.msra import MSRAHeatmap
from pose.codecs.regression import RegressionLabel
from pose.codecs.simcc import SimCCLabel
from pose.codecs.udp import UDPHeatmap
from pose.errors import build_by_name


class Codec(Protocol):
    """What the dataset, heads and estimator rely on."""

    name: ClassVar[str]
    input_size: tuple[int, int]

    def encode(self, keypoints: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]: ...

    def decode(self, outputs: Any) -> tuple[Any, Any]:
        """Model outputs (numpy or torch, leading B) -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        ...

    def flip_outputs(self, outputs: Any, flip_indices: Any) -> Any: ...

    def flip(self, encoded: dict[str, np.ndarray], flip_indices: Any) -> dict[str, np.ndarray]: ...


CODECS: dict[str, type] = {
    "msra": MSRAHeatmap,
    "udp": UDPHeatmap,
    "simcc": SimCCLabel,
    "regression": RegressionLabel,
}


def build_codec(name: str, **kw: Any) -> Codec:
    """The codec called ``name`` with parameters ``kw`` (e.g. ``build_codec("msra", dark=True)``)."""
    return build_by_name("codec", CODECS, name, kw)


def codec_config(codec: Codec) -> dict[str, Any]:
    """``{"name": ..., **fields}``: what ``build_codec(**config)`` rebuilds (for published meta)."""
    return {"name": codec.name, **asdict(codec)}


__all__ = ["CODECS", "Codec", "MSRAHeatmap", "RegressionLabel", "SimCCLabel", "UDPHeatmap", "build_codec", "codec_config"]
