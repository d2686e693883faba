"""Model size and compute, counted the way MMPose's ``get_flops.py`` reports them.

GFLOPs here are multiply-accumulates (MACs) / 1e9 for one image, as fvcore / mmengine count
them. Counted exactly:

* convolutions (incl. transposed), linear layers / matmuls and ``bmm``: MACs, taken from
  ``torch.utils.flop_counter.FlopCounterMode`` (which reports 2 FLOPs per MAC) halved;
* BatchNorm in eval mode: 2 per output element (scale and shift), as fvcore counts it;
* nearest upsampling: 1 per output element, as fvcore counts it.

Activations, additions, pooling, concatenation and ScaleNorm are not counted (neither does
mmengine). Parameters count every trainable and frozen parameter (buffers excluded).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pose.models.estimator import TopdownPoseEstimator
from pose.models.presets import PRESETS, build_model, get_preset, list_models


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: TopdownPoseEstimator, input_size: tuple[int, int] | None = None) -> int:
    """MACs of one forward of ``model.network`` on a (1, 3, h, w) input (see module docstring)."""
    w, h = input_size or model.input_size
    x = torch.zeros(1, 3, h, w, device=model.scale.device)
    extra = 0

    def elementwise(per_element: int):
        def hook(_m: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            nonlocal extra
            extra += per_element * output.numel()
        return hook

    hooks = [
        m.register_forward_hook(elementwise(2 if isinstance(m, nn.BatchNorm2d) else 1))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d) or (isinstance(m, nn.Upsample) and m.mode == "nearest")
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model.network(x)
    finally:
        model.train(was_training)
        for hk in hooks:
            hk.remove()
    return counter.get_total_flops() // 2 + extra


def model_summary(preset: str, num_keypoints: int = 17, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """``{"preset", "input_size", "params", "gflops", "pretrained"}`` of a freshly built preset
    (``pretrained``: the backbone's default init, ``"imagenet"`` or ``None``; not loaded here)."""
    model = build_model(preset, num_keypoints, input_size, pretrained="none")
    return {
        "preset": preset,
        "input_size": list(model.input_size),
        "params": count_params(model),
        "gflops": count_macs(model) / 1e9,
        "pretrained": get_preset(preset).pretrained,
    }


def preset_summaries(pattern: str = "*", num_keypoints: int = 17) -> list[dict[str, Any]]:
    """``model_summary`` of every preset matching ``pattern`` (``pose models``), with its codec and head."""
    return [{**model_summary(name, num_keypoints=num_keypoints), "codec": PRESETS[name].codec, "head": PRESETS[name].head}
            for name in list_models(pattern)]
