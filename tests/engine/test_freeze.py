"""train.freeze_stages / freeze_epochs / backbone_lr_mult: frozen stages keep their weights and
BatchNorm statistics, unfreeze on time, and the backbone's parameter groups get their own lr."""

from pathlib import Path

import pytest
import torch
from torch import nn

from pose.engine.freeze import frozen_modules
from pose.engine.optim import build_optimizer
from pose.engine.runtime import resolve_device, seed_everything
from pose.engine.trainer import Task, fit
from pose.errors import ConfigError
from pose.models import build_model
from pose.params import TrainParams

X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
Y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0])


class Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU())
        self.stage1 = nn.Sequential(nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU())
        self.stage2 = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage2(self.stage1(self.stem(x)))

    def stages(self) -> list[list[nn.Module]]:
        return [[self.stem], [self.stage1], [self.stage2]]


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone, self.head = Backbone(), nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def task() -> Task:
    seed_everything(0, deterministic=True)

    def loaders(epoch: int):
        for i in range(4):
            yield {"x": X[i * 16:(i + 1) * 16], "y": Y[i * 16:(i + 1) * 16]}

    def loss(m: nn.Module, b: dict) -> dict:
        return {"mse": ((m(b["x"]).squeeze(1) - b["y"]) ** 2).mean()}

    return Task(model=Net(), loss=loss, loaders=loaders, iters_per_epoch=4, config={})


def params(**kw: object) -> TrainParams:
    return TrainParams(**{"warmup_iters": 0, "ema": False, "channels_last": False, "lr": 0.05, **kw})


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_frozen_stages_keep_weights_and_batchnorm_statistics(tmp_path: Path) -> None:
    t = task()
    stem, stage1, rest = snapshot(t.model.backbone.stem), snapshot(t.model.backbone.stage1), snapshot(t.model.backbone.stage2)
    fit(t, params(epochs=2, freeze_stages=1), work_dir=tmp_path, device=resolve_device("cpu"), validate=False, show_progress=False)
    assert changed(stem, t.model.backbone.stem) == set()  # weights and running stats
    assert changed(stage1, t.model.backbone.stage1) == set()
    assert changed(rest, t.model.backbone.stage2) == {"weight", "bias"}


def test_freeze_epochs_unfreezes_after_the_first_epochs(tmp_path: Path) -> None:
    t = task()
    stem = snapshot(t.model.backbone.stem)
    fit(t, params(epochs=2, freeze_stages=-1, freeze_epochs=1), work_dir=tmp_path, device=resolve_device("cpu"),
        validate=False, show_progress=False)
    assert {"0.weight", "1.running_mean", "1.weight"} <= changed(stem, t.model.backbone.stem)
    assert all(p.requires_grad for p in t.model.parameters())
    assert frozen_modules(t.model, params(freeze_stages=-1, freeze_epochs=1), 0) == [
        t.model.backbone.stem, t.model.backbone.stage1, t.model.backbone.stage2]


def test_backbone_lr_mult_gives_the_backbone_its_own_lr() -> None:
    model = Net()
    opt = build_optimizer(model, params(backbone_lr_mult=0.1))
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert {round(lrs[id(p)], 9) for p in model.backbone.parameters()} == {0.005}
    assert {lrs[id(p)] for p in model.head.parameters()} == {0.05}
    assert opt.param_groups[0]["lr"] == 0.05  # the logged lr is the head's


def test_default_groups_are_decay_then_no_decay() -> None:
    model = Net()
    groups = build_optimizer(model, params()).param_groups
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_real_backbones_list_their_stages() -> None:
    for preset, count in [("simplebaseline-r18", 5), ("simplebaseline-lite0", 6), ("rtmpose-t", 5)]:
        model = build_model(preset, 17, input_size=(96, 128), pretrained="none")
        stages = model.backbone.stages()
        assert len(stages) == count, preset
        covered = {id(p) for s in stages for m in s for p in m.parameters()}
        assert covered == {id(p) for p in model.backbone.parameters()}, preset


def test_fcos_detectors_list_their_backbone_stages() -> None:
    """The FPN detectors' bodies are stem + one child per stage: freezing counts them, the FPN and head stay trainable."""
    from pose.detection.presets import build_detector

    for preset, count in [("fcos-tiny", 5), ("fcos-lite0", 6)]:
        model = build_detector(preset, 1, pretrained="none")
        stages = model.backbone.stages()
        assert len(stages) == count, preset
        assert {id(p) for s in stages for m in s for p in m.parameters()} == {id(p) for p in model.backbone.body.parameters()}
        frozen = {id(p) for m in frozen_modules(model, params(freeze_stages=2), 0) for p in m.parameters()}
        assert frozen == {id(p) for s in stages[:3] for m in s for p in m.parameters()}, preset


def test_too_many_stages_or_no_stages_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="3 stages asked, the backbone has 2"):
        frozen_modules(Net(), params(freeze_stages=3), 0)
    with pytest.raises(ConfigError, match="does not list its stages"):
        build_optimizer(nn.Sequential(nn.Linear(2, 2)), params(backbone_lr_mult=0.5))


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path: Path) -> None:
    """train.compile: the compiled steps update the parameters the checkpoint and EMA read."""
    outputs = {}
    for compiled in (False, True):
        t = task()
        fit(t, params(epochs=2, compile=compiled, ema=True), work_dir=tmp_path / str(compiled), device=resolve_device("cpu"),
            validate=False, show_progress=False)
        state = torch.load(tmp_path / str(compiled) / "latest.pth", weights_only=True)
        for key in ("model", "ema"):
            net = Net().eval()
            net.load_state_dict({k.removeprefix("module."): v for k, v in state[key].items() if k != "n_averaged"})
            outputs[compiled, key] = net(X).detach()
    untrained = Net().eval()(X).detach()
    for key in ("model", "ema"):
        torch.testing.assert_close(outputs[True, key], outputs[False, key], rtol=1e-3, atol=1e-3)
        assert not torch.allclose(outputs[False, key], untrained, atol=1e-2)
