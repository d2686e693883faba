"""``params/publish.yaml``: publishing and the champion gate."""

from __future__ import annotations

from pydantic import Field

from pose.params.base import Strict


class PublishParams(Strict):
    """``params/publish.yaml``: publishing and the champion gate."""

    name: str | None = Field(None, description="registered model name; None = <dataset>-pose")
    registry: bool = True
    onnx: bool = True
    min_gain: float = Field(0.0, ge=0, description="AP a challenger must gain over the champion to be promoted")
