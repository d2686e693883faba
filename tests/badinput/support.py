"""Helpers of the bad-input corpus: run ``pose`` in process, check the error contract, tiny valid inputs."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from model_files import make_pose_checkpoint

KEYPOINTS = ["nose", "left_eye", "right_eye"]


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(*args: str | Path) -> CliResult:
    """``pose ARGS`` through ``pose.cli.main`` in this process; an escaping exception is a traceback."""
    from pose import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["pose", *map(str, args)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - what a user would see as a crash
        err.write(traceback.format_exc())
        code = -1
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


def assert_user_error(r: CliResult, *, file: str | Path | None, entry: str | None = None, says: str = "", code: int = 2) -> str:
    """Exit ``code``, one ``error: FILE: ENTRY: message`` line (+ optional hint), no traceback."""
    assert "Traceback" not in r.err + r.out, r.err
    assert r.code == code, f"exit {r.code}, expected {code}\n{r.err}"
    lines = r.lines
    assert lines and lines[0].startswith("error: "), r.err
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), r.err
    first = lines[0]
    prefix = "error: "
    if file is not None:
        prefix += f"{file}: "
        assert first.startswith(prefix), f"{first!r} does not name {file}"
    if entry is not None:
        assert first.startswith(prefix + f"{entry}: "), f"{first!r} does not name entry {entry!r}"
    assert says.lower() in first.lower(), f"{first!r} does not say {says!r}"
    return first


def assert_nothing_written(target: Path) -> None:
    """``target`` does not exist and no temp file or folder for it lies beside it."""
    assert not target.exists(), f"{target} was written"
    if target.parent.is_dir():
        left = [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]
        assert not left, f"temp files left beside {target}: {left}"


# ------------------------------------------------------------------------ tiny valid inputs
def write_png(path: Path, w: int = 48, h: int = 40, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((h, w, 3), value, np.uint8)
    img[h // 4 : h // 2, w // 4 : w // 2] = 255
    ok, buf = cv2.imencode(".png", img)  # bytes, so names that are not UTF-8 work too
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def coco_dict() -> dict[str, Any]:
    """Two images, two annotations, K=3: a file that loads and validates clean."""
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 48, "height": 40},
            {"id": 2, "file_name": "b.png", "width": 48, "height": 40},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [5.0, 5.0, 30.0, 25.0], "area": 750.0, "iscrowd": 0,
             "num_keypoints": 3, "keypoints": [10, 10, 2, 20, 12, 2, 30, 14, 1]},
            {"id": 11, "image_id": 2, "category_id": 1, "bbox": [4.0, 6.0, 30.0, 25.0], "area": 750.0, "iscrowd": 0,
             "num_keypoints": 2, "keypoints": [12, 11, 2, 22, 13, 2, 0, 0, 0]},
        ],
        "categories": [{"id": 1, "name": "face", "supercategory": "face", "keypoints": list(KEYPOINTS), "skeleton": [[1, 2], [1, 3]]}],
    }


@dataclass(frozen=True)
class LooseCoco:
    """A loose COCO file and its image root, as ``pose data validate ann.json --images DIR`` takes."""

    ann: Path
    images: Path

    def write(self, d: Any) -> Path:
        self.ann.write_text(json.dumps(d))
        return self.ann


Mutation = Callable[[dict[str, Any]], Any]


make_checkpoint = make_pose_checkpoint


