"""Bad checkpoints for ``pose infer`` and ``pose test``: refused with one line naming the file, loaded
only with ``weights_only=True`` (a pickle that would run code is refused, and does not run)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from badinput.support import LooseCoco, assert_nothing_written, assert_user_error, run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

MARKER = "pose_badinput_pwned"


class _Exploit:
    """Unpickling this calls ``os.system`` (creates a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return os.system, (f"touch {self.marker}",)


def _state(ckpt: Path) -> dict[str, Any]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def _zero(ckpt: Path, dst: Path) -> None:
    dst.write_bytes(b"")


def _truncated(ckpt: Path, dst: Path) -> None:
    dst.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])


def _text(ckpt: Path, dst: Path) -> None:
    dst.write_text("model: rtmpose-t\n")


def _flipped_bytes(ckpt: Path, dst: Path) -> None:
    raw = bytearray(ckpt.read_bytes())
    raw[100:400] = bytes(300)
    dst.write_bytes(bytes(raw))


def _pickle_exploit(ckpt: Path, dst: Path) -> None:
    torch.save({"model": _Exploit(dst.parent / MARKER)}, dst)


def _raw_pickle_exploit(ckpt: Path, dst: Path) -> None:
    dst.write_bytes(pickle.dumps(_Exploit(dst.parent / MARKER), protocol=2))


def _list(ckpt: Path, dst: Path) -> None:
    torch.save([torch.zeros(1)], dst)


def _no_config(ckpt: Path, dst: Path) -> None:
    torch.save({"model": _state(ckpt)["model"]}, dst)


def _other_preset(ckpt: Path, dst: Path) -> None:
    s = _state(ckpt)
    s["config"]["preset"] = s["config"]["params"]["model"]["preset"] = "simplebaseline-r18"
    torch.save(s, dst)


def _no_weights(ckpt: Path, dst: Path) -> None:
    s = _state(ckpt)
    del s["model"]
    torch.save(s, dst)


CASES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "zero-byte": (_zero, "empty"),
    "truncated": (_truncated, "corrupt or truncated"),
    "text-file": (_text, "corrupt"),
    "zeroed-bytes": (_flipped_bytes, "corrupt"),
    "pickle-runs-code": (_pickle_exploit, "refused"),
    "raw-pickle-runs-code": (_raw_pickle_exploit, "refused"),
    "top-level-list": (_list, "not a posepipe checkpoint"),
    "no-config": (_no_config, "pose"),
    "other-preset": (_other_preset, "do not fit preset 'simplebaseline-r18'"),
    "no-weights": (_no_weights, "no model weights"),
}


@pytest.mark.parametrize("make,says", list(CASES.values()), ids=list(CASES))
def test_bad_checkpoint_refused_by_infer(make: Callable[[Path, Path], None], says: str, ckpt: Path, photo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "model.pth"
    make(ckpt, bad)
    out = tmp_path / "out.png"
    r = run_cli("infer", photo, "--pose-model", bad, "--full-frame", "--out", out, "--device", "cpu")
    assert_user_error(r, file=bad, says=says)
    assert_nothing_written(out)
    assert not (tmp_path / MARKER).exists(), "unpickling ran code"


@pytest.mark.parametrize("case", ["truncated", "pickle-runs-code", "other-preset"])
def test_bad_checkpoint_refused_by_test(case: str, ckpt: Path, tmp_path: Path) -> None:
    make, says = CASES[case]
    bad = tmp_path / "model.pth"
    make(ckpt, bad)
    out = tmp_path / "metrics.json"
    assert_user_error(run_cli("test", bad, "--out", out, "--device", "cpu"), file=bad, says=says)
    assert_nothing_written(out)
    assert not (tmp_path / MARKER).exists()


def test_checkpoint_for_another_keypoint_set(ckpt: Path, loose: LooseCoco, tmp_path: Path) -> None:
    """A 17-keypoint model scored on a 3-keypoint dataset: refused before predicting."""
    out = tmp_path / "metrics.json"
    r = run_cli("test", ckpt, "--dataset", loose.ann, "--out", out, "--device", "cpu")
    assert_user_error(r, file=loose.ann, says="predicts 17 keypoints, the dataset has 3")
    assert_nothing_written(out)
