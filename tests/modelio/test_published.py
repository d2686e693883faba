"""Publishing: stripped hash-named files, EMA weights, stored meta, model card, reload, tampering."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from pose.data.meta import load_meta
from pose.engine.checkpoint import save_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.modelio.loaders import load_any_pose
from pose.modelio.published import load_published
from pose.params import PoseParams
from pose.publish.command import publish
from pose.recipes.topdown import build_pose_model, checkpoint_config


def fake_checkpoint(path: Path, preset: str = "rtmpose-t") -> Path:
    """A training checkpoint as the engine writes it (nothing trained): EMA differs from the raw weights."""
    params = PoseParams.model_validate({"dataset": "data/x", "model": {"preset": preset, "input_size": [64, 64]}})
    meta = load_meta("coco")
    torch.manual_seed(0)
    model = build_pose_model(params, meta)
    ema = {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_checkpoint(path, {
        "model": model.state_dict(), "ema": ema, "ema_state": {"n_averaged": torch.tensor(3)},
        "optimizer": {"state": {}, "param_groups": []}, "scheduler": {"last_epoch": 3}, "scaler": None,
        "rng": {"torch": torch.get_rng_state()}, "epoch": 3, "best": 0.7,
        "history": [{"loss": 1.0, "AP": 0.5, "epoch": 1}, {"loss": 0.5, "AP": 0.7, "PCK@0.05": 0.6, "epoch": 2},
                    {"loss": 0.4, "AP": 0.65, "epoch": 3}],
        "config": checkpoint_config(params, meta, model)})
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pth")


def test_publish_strips_names_by_hash_and_keeps_ema(ckpt: Path, tmp_path: Path) -> None:
    pm = publish(ckpt, tmp_path, lineage={"pose.git_commit": "abc123"})
    data = pm.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert pm.sha256 == sha and pm.path.name == f"coco-rtmpose-t-{sha[:8]}.pth" and pm.card.name == f"coco-rtmpose-t-{sha[:8]}.md"
    raw = torch.load(pm.path, weights_only=True)
    assert set(raw) == {"state_dict", "meta"}
    ema = torch.load(ckpt, weights_only=True)["ema"]
    assert all(torch.equal(raw["state_dict"][k], ema[k]) for k in ema)
    meta = raw["meta"]
    assert meta["metrics"] == {"AP": 0.7, "PCK@0.05": 0.6, "epoch": 2}  # the best epoch, not the last
    assert meta["codec"]["name"] == "simcc" and meta["input_size"] == [64, 64] and meta["num_keypoints"] == 17
    assert meta["dataset_meta"]["name"] == "coco" and meta["lineage"] == {"pose.git_commit": "abc123"}
    assert meta["outputs"] == {"simcc_x": ["B", 17, 128], "simcc_y": ["B", 17, 128]}
    assert meta["params"]["model"]["preset"] == "rtmpose-t" and meta["source"]["weights"] == "ema"
    card = pm.card.read_text()
    for text in ("# coco-rtmpose-t", "Intended use", "| AP | 0.7 |", "abc123", "simcc_x", "(B, 17, 128)", sha):
        assert text in card
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    again = publish(ckpt, tmp_path / "again", lineage={"pose.git_commit": "abc123"})
    assert again.path.name == pm.path.name, "same inputs must give the same bytes"


@pytest.mark.slow
def test_load_published_and_any(ckpt: Path, tmp_path: Path) -> None:
    pm = publish(ckpt, tmp_path, name="mine", metrics={"AP": 0.9})
    model, meta, info = load_published(pm.path)
    assert meta.name == "coco" and info["sha256"] == pm.sha256 and info["metrics"] == {"AP": 0.9}
    from_ckpt, _, cfg = load_any_pose(ckpt)
    from_pub, _, info2 = load_any_pose(pm.path)
    assert cfg["kind"] == "checkpoint" and info2["name"] == "mine"
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    for a, b in zip(from_ckpt.predict(x), model.predict(x)):
        assert torch.equal(a, b)


def test_refusals(ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model name"):
        publish(ckpt, tmp_path, name="../evil")
    with pytest.raises(CheckpointError, match="not a published posepipe model"):
        load_published(ckpt)
    pm = publish(ckpt, tmp_path)
    tampered = tmp_path / "t" / pm.path.name
    tampered.parent.mkdir()
    data = bytearray(pm.path.read_bytes())
    data[-30] ^= 1  # zip trailer comment area: still loads, hash differs
    tampered.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load_published(tampered)
    with pytest.raises(CheckpointError, match="not found"):
        load_any_pose(tmp_path / "missing.pth")


@pytest.mark.slow
def test_onnx_parity_runs_on_val_crops_when_the_data_is_there(tmp_path: Path) -> None:
    import numpy as np

    from pose.data.synth import generate
    from pose.modelio.onnx import val_crops
    from model_files import make_pose_checkpoint

    generate(tmp_path / "ds", images=6, seed=3, size=96, val_fraction=0.5, progress=False)
    ckpt = make_pose_checkpoint(tmp_path / "best.pth", tmp_path / "ds")
    cfg = torch.load(ckpt, weights_only=True)["config"]
    crops = val_crops(cfg)
    assert crops is not None and crops.dtype == np.uint8 and crops.shape[1:] == (3, 64, 64) and 1 <= len(crops) <= 8
    assert crops.std() > 10, "real image content, not a blank crop"
    pm = publish(ckpt, tmp_path / "out", onnx=True)
    p = pm.onnx_report["parity"]
    assert p["crops_from"] == "given" and p["crops"] == len(crops) and p["passed"]
    assert f"on {len(crops)} val crops" in pm.card.read_text()

    cfg["params"]["dataset"] = str(tmp_path / "gone")
    assert val_crops(cfg) is None, "no dataset at hand: the caller falls back to random crops"
    (tmp_path / "ds").rename(tmp_path / "moved")
    away = publish(ckpt, tmp_path / "away", onnx=True)
    assert away.onnx_report["parity"]["crops_from"] == "random" and "random crops" in away.card.read_text()
