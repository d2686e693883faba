"""The bad-input corpus: every case runs the real ``pose`` CLI and checks the user-facing contract.

Contract (pose/cli.py ``main``): bad input exits 2 with ``error: FILE: ENTRY: message`` as the first
stderr line and at most one ``hint:`` line after it, never a traceback, and nothing is left at the
output location (no file, no temp file beside it). Most cases call ``main`` in process (the same code
path as the console script, without a 1-2 s interpreter start each); ``test_entry_point.py`` runs a
few of them as real subprocesses to prove the two agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from badinput.support import LooseCoco, coco_dict, make_checkpoint, write_png


@pytest.fixture
def loose(tmp_path: Path) -> LooseCoco:
    images = tmp_path / "images"
    write_png(images / "a.png")
    write_png(images / "b.png", value=90)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(coco_dict()))
    return LooseCoco(ann, images)


@pytest.fixture(scope="session")
def synth_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-image, 64 px synthetic dataset folder (train + val)."""
    from pose.data.synth import generate

    out = tmp_path_factory.mktemp("synth") / "ds"
    generate(out, kind="human", images=4, seed=3, size=64, val_fraction=0.5, progress=False)
    return out


@pytest.fixture(scope="session")
def ckpt(synth_ds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "rtmpose-t.pth", synth_ds)


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_png(tmp_path_factory.mktemp("photo") / "frame.png", 64, 64)
