"""The generic loop on a tiny regression task: resume == straight, NaN stop, best checkpoint."""

from pathlib import Path

import pytest
import torch

from pose.engine.checkpoint import load_checkpoint
from pose.engine.runtime import resolve_device, seed_everything
from pose.engine.trainer import Task, TrainingError, fit
from pose.errors import CheckpointError, ConfigError
from pose.params import TrainParams

X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
Y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1


def make_task(nan_at: int | None = None) -> Task:
    seed_everything(0, deterministic=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1))

    def loaders(epoch: int):
        g = torch.Generator().manual_seed(1000 + epoch)
        perm = torch.randperm(64, generator=g)
        for i in range(4):
            idx = perm[i * 16 : (i + 1) * 16]
            yield {"x": X[idx], "y": Y[idx], "i": i, "epoch": epoch}

    def loss(m, b):
        out = m(b["x"]).squeeze(1)
        mse = ((out - b["y"]) ** 2).mean()
        if nan_at is not None and b["epoch"] * 4 + b["i"] == nan_at:
            mse = mse * float("nan")
        return {"mse": mse}

    def evaluate(m):
        m.eval()
        with torch.no_grad():
            err = ((m(X).squeeze(1) - Y) ** 2).mean().item()
        return {"neg_mse": -err}

    return Task(model=model, loss=loss, loaders=loaders, iters_per_epoch=4, evaluate=evaluate, best_metric="neg_mse", config={"lr": 0.01})


def settings(**kw: object) -> TrainParams:
    """The loop's plain settings (no warm-up, lr floor, EMA or channels-last) with ``kw`` on top."""
    return TrainParams(**{"warmup_iters": 0, "min_lr_ratio": 0.0, "ema": False, "channels_last": False, **kw})


S = settings(epochs=4, lr=0.01, warmup_iters=2, ema=True, ema_decay=0.9, clip_grad=5.0)


class Recorder:
    def __init__(self):
        self.events = []

    def on_train_start(self, info):
        self.events.append(("start", info["start_epoch"]))

    def on_epoch_end(self, epoch, metrics):
        self.events.append(("epoch", epoch, round(metrics["neg_mse"], 6)))

    def on_train_end(self, summary):
        self.events.append(("end", summary["epochs"]))


def test_resume_equals_straight(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    rec = Recorder()
    fit(make_task(), S, work_dir=tmp_path / "a", device=cpu, callbacks=[rec], show_progress=False)
    straight = load_checkpoint(tmp_path / "a" / "latest.pth")
    assert [e[0] for e in rec.events] == ["start", "epoch", "epoch", "epoch", "epoch", "end"]

    rec2 = Recorder()
    _run_interrupted(tmp_path / "d")
    fit(make_task(), S, work_dir=tmp_path / "d", device=cpu, resume="auto", callbacks=[rec2], show_progress=False)
    resumed = load_checkpoint(tmp_path / "d" / "latest.pth")
    assert rec2.events[0] == ("start", 2)
    for k, v in straight["model"].items():
        torch.testing.assert_close(resumed["model"][k], v, rtol=0, atol=0)
    for k, v in straight["ema"].items():
        torch.testing.assert_close(resumed["ema"][k], v, rtol=0, atol=0)
    assert resumed["history"][-1]["neg_mse"] == straight["history"][-1]["neg_mse"]


class _Stop(Exception):
    pass


def _run_interrupted(work_dir: Path) -> None:
    class Killer:
        def on_epoch_end(self, epoch, metrics):
            if epoch == 2:
                raise _Stop

    with pytest.raises(_Stop):
        fit(make_task(), S, work_dir=work_dir, device=torch.device("cpu"), callbacks=[Killer()], show_progress=False)
    assert load_checkpoint(work_dir / "latest.pth")["epoch"] == 2


def test_resume_if_same_only_resumes_the_same_config(tmp_path: Path) -> None:
    cpu = torch.device("cpu")
    _run_interrupted(tmp_path / "d")
    rec = Recorder()
    fit(make_task(), S, work_dir=tmp_path / "d", device=cpu, resume="if-same", callbacks=[rec], show_progress=False)
    assert rec.events[0] == ("start", 2)

    _run_interrupted(tmp_path / "e")
    changed = make_task()
    changed.config = {"lr": 0.02}
    rec = Recorder()
    fit(changed, S, work_dir=tmp_path / "e", device=cpu, resume="if-same", callbacks=[rec], show_progress=False)
    assert rec.events[0] == ("start", 0)
    assert load_checkpoint(tmp_path / "e" / "latest.pth")["config"] == {"lr": 0.02}

    rec = Recorder()
    fit(make_task(), S, work_dir=tmp_path / "fresh", device=cpu, resume="if-same", callbacks=[rec], show_progress=False)
    assert rec.events[0] == ("start", 0)


def test_best_checkpoint_tracks_metric(tmp_path: Path) -> None:
    summary = fit(make_task(), S, work_dir=tmp_path, device=torch.device("cpu"), show_progress=False)
    best = load_checkpoint(tmp_path / "best.pth")
    assert best["best"] == summary["best"] == max(h["neg_mse"] for h in summary["history"])


def test_non_finite_loss_names_epoch_and_iteration(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"non-finite loss at epoch 2, iteration 3"):
        fit(make_task(nan_at=6), S, work_dir=tmp_path, device=torch.device("cpu"), show_progress=False)


def test_resume_from_wrong_model_is_refused(tmp_path: Path) -> None:
    fit(make_task(), settings(epochs=1, lr=0.01), work_dir=tmp_path, device=torch.device("cpu"), show_progress=False)
    task = make_task()
    task.model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.1), torch.nn.Linear(3, 1))
    with pytest.raises(CheckpointError, match="does not match the model"):
        fit(task, settings(epochs=2, lr=0.01), work_dir=tmp_path, device=torch.device("cpu"), resume="auto", show_progress=False)


def test_cuda_request_without_gpu_is_an_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_ema_warms_up_then_uses_decay() -> None:
    from pose.engine.optim import ema_update

    upd = ema_update(0.99)
    e, p = [torch.zeros(1)], [torch.ones(1)]
    upd(e, p, torch.tensor(0))
    assert e[0].item() == pytest.approx(0.9)  # decay 1/10 at the first update
    e = [torch.zeros(1)]
    upd(e, p, torch.tensor(10_000))
    assert e[0].item() == pytest.approx(0.01)


def test_auto_workers_leave_the_compute_threads_their_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from pose.engine import runtime

    cpu = torch.device("cpu")
    assert runtime.resolve_workers(3, cpu) == 3
    monkeypatch.setattr(runtime, "cpu_count", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert runtime.resolve_workers("auto", cpu) == 0  # 2 cores, 2 torch threads: data loads in-process
    monkeypatch.setattr(runtime, "cpu_count", lambda: 16)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert runtime.resolve_workers("auto", cpu) == 8  # capped
    assert runtime.resolve_workers("auto", torch.device("cuda")) == 8
    monkeypatch.setattr(runtime, "cpu_count", lambda: 1)
    assert runtime.resolve_workers("auto", torch.device("cuda")) == 0


def test_auto_amp_is_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pose.engine import runtime

    cpu = torch.device("cpu")
    assert runtime.resolve_amp("none", cpu) == "none" and runtime.resolve_amp("bf16", cpu) == "bf16"
    native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert runtime.resolve_amp("auto", cpu) == ("bf16" if native else "none")


def test_auto_amp_is_recorded_resolved(tmp_path: Path) -> None:
    rec = []

    class Info:
        def on_train_start(self, info):
            rec.append(info)

    fit(make_task(), settings(epochs=1, lr=0.01, amp="auto"), work_dir=tmp_path, device=torch.device("cpu"),
        workers="auto", callbacks=[Info()], show_progress=False)
    assert rec[0]["amp"] in ("bf16", "none")
    assert isinstance(rec[0]["workers"], int)
