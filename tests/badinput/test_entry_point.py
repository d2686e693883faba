"""The console entry point behaves as the in-process runs of the corpus: same exit code and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from badinput.support import CliResult, LooseCoco, assert_nothing_written, assert_user_error, coco_dict, run_cli


def pose(*args: str | Path) -> CliResult:
    r = subprocess.run([sys.executable, "-m", "pose.cli", *map(str, args)], capture_output=True, text=True, timeout=120)
    return CliResult(r.returncode, r.stdout, r.stderr)


def test_subprocess_matches_in_process(loose: LooseCoco) -> None:
    d = coco_dict()
    d["annotations"][0]["keypoints"] = [1, 2, 2]
    loose.write(d)
    args = ("data", "info", loose.ann, "--images", loose.images)
    real = pose(*args)
    first = assert_user_error(real, file=loose.ann, entry="annotations[id=10].keypoints", says="(K=3 x [x, y, v])")
    assert assert_user_error(run_cli(*args), file=loose.ann) == first


def test_subprocess_refuses_code_running_checkpoint(tmp_path: Path, photo: Path) -> None:
    import os
    import pickle

    marker = tmp_path / "pwned"
    bad = tmp_path / "model.pth"
    bad.write_bytes(pickle.dumps(_Exploit(str(marker)), protocol=2))
    out = tmp_path / "out.png"
    r = pose("infer", photo, "--pose-model", bad, "--full-frame", "--out", out, "--device", "cpu")
    assert_user_error(r, file=bad, says="refused")
    assert not marker.exists() and os.path.exists(bad)
    assert_nothing_written(out)


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)
