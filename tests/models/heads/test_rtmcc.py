"""RTMCC head: MMPose's init, and that the head it gives can learn from scratch."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pose.engine.optim import build_optimizer
from pose.models import build_model
from pose.models.heads.rtmcc import RTMCCHead
from pose.params import TrainParams


def test_every_linear_starts_as_mmpose_inits_it() -> None:
    torch.manual_seed(0)
    head = RTMCCHead(384, 17, (192, 256), (6, 8))
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 5  # mlp, gau.uv, gau.o, cls_x, cls_y
    for m in linears:
        assert abs(float(m.weight.detach().std()) - 0.01) < 0.001, m
    assert float(head.final_layer.weight.detach().std()) < 0.0012
    assert torch.count_nonzero(head.final_layer.bias) == 0


def test_rtmpose_t_memorises_a_few_crops() -> None:
    """With the GAU left at its xavier init, the same 60 steps leave a median error of 85 px."""
    torch.manual_seed(0)
    model = build_model("rtmpose-t", 17, flip_test=False).train()
    rng = np.random.default_rng(0)
    w, h = model.input_size
    images = torch.from_numpy(rng.integers(0, 256, (8, 3, h, w), dtype=np.uint8))
    kp = rng.uniform((16, 16), (w - 16, h - 16), (8, 17, 2)).astype(np.float32)
    targets = {k: torch.from_numpy(v) for k, v in model.codec.encode(kp, np.full((8, 17), 2, np.uint8)).items()}
    opt = build_optimizer(model, TrainParams(lr=2e-3, weight_decay=0.0))
    for _ in range(60):
        opt.zero_grad(set_to_none=True)
        model(images, targets, mode="loss")["loss"].backward()
        opt.step()
    model.eval()
    pred, _ = model.predict(images)
    err = (pred - torch.from_numpy(kp)).norm(dim=-1)
    assert float(err.median()) < 5.0, float(err.median())
