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


def test_bad_sources_print_only_our_line(tmp_path: Path, ckpt: Path) -> None:
    """Through the real process: OpenCV/FFmpeg print to fd 2 on a broken video or a missing
    webcam; that noise must not precede (or follow) the one error line."""
    broken = tmp_path / "clip.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)  # an mp4 header and nothing behind it
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    cases = [(broken, broken, "cannot read video"), (empty, empty, "holds no images"), ("97", None, "cannot open webcam 97")]
    for src, file, says in cases:
        out = tmp_path / f"out_{Path(str(src)).name}.mp4"
        r = pose("infer", src, "--pose-model", ckpt, "--full-frame", "--out", out, "--device", "cpu")
        assert_user_error(r, file=file, says=says)
        assert_nothing_written(out)


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)
