import pytest
import torch

from pose.engine.schedule import build_scheduler, lr_factor
from pose.params import TrainParams


def test_warmup_then_cosine() -> None:
    s = TrainParams(epochs=10, warmup_iters=10, warmup_ratio=0.1, schedule="cosine", min_lr_ratio=0.05)
    assert lr_factor(0, s, 10) == pytest.approx(0.1)
    assert lr_factor(5, s, 10) == pytest.approx((0.05 + 0.95 * 0.5 * (1 + __import__("math").cos(0.05 * 3.141592653589793))) * 0.55)
    assert lr_factor(100, s, 10) == pytest.approx(0.05)
    vals = [lr_factor(i, s, 10) for i in range(10, 100)]
    assert all(a >= b for a, b in zip(vals, vals[1:])), "cosine decays monotonically after warm-up"


def test_step_schedule_and_state_resume() -> None:
    s = TrainParams(epochs=6, warmup_iters=0, schedule="step", milestones=[2, 4], gamma=0.1)
    assert [round(lr_factor(i * 10, s, 10), 6) for i in range(6)] == [1, 1, 0.1, 0.1, 0.01, 0.01]
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sch = build_scheduler(opt, s, 10)
    for _ in range(25):
        opt.step()
        sch.step()
    state = sch.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch2 = build_scheduler(opt2, s, 10)
    sch2.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    assert sch2.get_last_lr() == sch.get_last_lr()
