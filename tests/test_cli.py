"""The console entry point: one-line errors with exit 2, tracebacks only with --debug."""

import json
import subprocess
import sys
from pathlib import Path


def pose(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_help_lists_commands() -> None:
    r = pose("--help")
    assert r.returncode == 0
    assert "data" in r.stdout
    r = pose("data", "--help")
    assert r.returncode == 0
    for cmd in ("synth", "convert", "validate", "show", "meta-from-coco", "info"):
        assert cmd in r.stdout


def test_user_error_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "ann.json"
    bad.write_text("{not json")
    r = pose("data", "meta-from-coco", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and "ann.json" in lines[0] and "invalid JSON" in lines[0]
    r = pose("data", "meta-from-coco", str(bad), "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_meta_from_coco_writes_meta(tmp_path: Path) -> None:
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": [], "annotations": [], "categories": [
        {"id": 1, "name": "mouse", "keypoints": ["snout", "left_ear", "right_ear"], "skeleton": [[1, 2], [1, 3]]}]}))
    r = pose("data", "meta-from-coco", str(ann), "--out", str(tmp_path / "m.yaml"), "--sigmas", "0.05,0.06,0.06")
    assert r.returncode == 0, r.stderr
    assert "left_ear<->right_ear" in r.stdout
    from pose.data.meta import load_meta

    m = load_meta(tmp_path / "m.yaml")
    assert m.flip_pairs.tolist() == [[1, 2]] and m.sigmas is not None
    r = pose("data", "meta-from-coco", str(ann), "--out", str(tmp_path / "m2.yaml"), "--sigmas", "a,b")
    assert r.returncode == 2 and "--sigmas" in r.stderr


def test_unknown_option_is_usage_error() -> None:
    r = pose("data", "info", "--no-such-option")
    assert r.returncode == 2
