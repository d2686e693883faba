import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from pose.engine.checkpoint import load_checkpoint, load_weights, model_state, remove_stale_temps, rng_state, save_checkpoint, set_rng_state
from pose.errors import CheckpointError


def test_round_trip_with_optimizer_and_rng(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "iter": 17,
             "config": {"lr": 1e-3, "names": ["a", "b"]}, "rng": rng_state()}
    save_checkpoint(tmp_path / "c.pth", state)
    back = load_checkpoint(tmp_path / "c.pth")
    assert back["epoch"] == 3 and back["config"]["names"] == ["a", "b"]
    torch.testing.assert_close(back["model"]["weight"], model.state_dict()["weight"])
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    opt2.load_state_dict(back["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == 1


def test_rng_state_restores_all_generators() -> None:
    st = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(st)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_truncated_empty_missing(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pth", {"model": {"w": torch.zeros(1000)}})
    raw = (tmp_path / "c.pth").read_bytes()
    (tmp_path / "t.pth").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "t.pth")
    (tmp_path / "e.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "e.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pth")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_that_runs_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save({"model": _Exploit()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pth")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"model": _Exploit()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "plain.pkl")
    assert not (tmp_path / "pwned.txt").exists()


def test_failed_save_keeps_previous(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pth", {"v": torch.tensor([1])})

    class Boom:
        def __reduce__(self):
            raise OSError(28, "No space left on device")

    with pytest.raises(CheckpointError, match="disk full"):
        save_checkpoint(tmp_path / "c.pth", {"v": Boom()})
    assert load_checkpoint(tmp_path / "c.pth")["v"].item() == 1
    assert sorted(os.listdir(tmp_path)) == ["c.pth"]


def test_load_weights_reports_keys() -> None:
    src = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    dst = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 5))
    sd = src.state_dict()
    sd["extra.weight"] = torch.zeros(1)
    rep = load_weights(dst, sd)
    torch.testing.assert_close(dst[0].weight, src[0].weight)
    assert rep.unexpected == ["extra.weight"]
    assert rep.mismatched == ["1.weight: (2, 4) vs (5, 4)", "1.bias: (2,) vs (5,)"]
    assert rep.missing == [] and not rep.clean
    with pytest.raises(CheckpointError, match="no model weights"):
        model_state({"epoch": 1}, "x.pth")


def test_remove_stale_temps_keeps_finished_checkpoints(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "latest.pth", {"epoch": 3})
    torn = [tmp_path / ".latest.pth.abc123.tmp", tmp_path / ".best.pth.x.tmp"]
    for p in torn:
        p.write_bytes(b"PK\x03\x04 torn")
    (tmp_path / ".other.tmp").write_bytes(b"not ours")
    assert sorted(remove_stale_temps(tmp_path)) == sorted(torn)
    assert sorted(os.listdir(tmp_path)) == [".other.tmp", "latest.pth"]
    assert load_checkpoint(tmp_path / "latest.pth")["epoch"] == 3
