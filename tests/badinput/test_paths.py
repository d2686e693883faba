"""Image file names that escape the image root, cannot exist, or are not UTF-8; broken dataset metas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from badinput.support import LooseCoco, assert_nothing_written, assert_user_error, coco_dict, run_cli, write_png

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# file_name of image 2 -> words of the loader's one-line error (refused before any image is read)
REFUSED_NAMES = {
    "dotdot": ("../outside/secret.png", "escapes the image root"),
    "dotdot-inside": ("sub/../../secret.png", "escapes the image root"),
    "absolute": ("/etc/passwd", "absolute file_name"),
    "windows-absolute": ("C:\\data\\b.png", "absolute file_name"),
    "backslash-dotdot": ("..\\secret.png", "escapes the image root"),
    "nul-byte": ("b\x00.png", "NUL byte"),
}


@pytest.mark.parametrize("name,says", list(REFUSED_NAMES.values()), ids=list(REFUSED_NAMES))
def test_escaping_file_name_refused(name: str, says: str, loose: LooseCoco, tmp_path: Path) -> None:
    d = coco_dict()
    d["images"][1]["file_name"] = name
    loose.write(d)
    assert_user_error(run_cli("data", "info", loose.ann, "--images", loose.images), file=loose.ann, entry="images[id=2]", says=says)
    report = tmp_path / "report.json"
    assert run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report).code == 1
    assert [f["entry"] for f in json.loads(report.read_text())["findings"] if f["check"] == "image_path"] == ["images[id=2]"]


def _show(loose: LooseCoco, out: Path) -> list[str]:
    return ["data", "show", str(loose.ann), "--images", str(loose.images), "--out", str(out), "--num", "2", "--no-augment", "--input-size", "32", "32"]


def test_symlink_escaping_the_root_is_refused_when_read(loose: LooseCoco, tmp_path: Path) -> None:
    secret = write_png(tmp_path / "outside" / "secret.png")
    (loose.images / "b.png").unlink()
    (loose.images / "b.png").symlink_to(secret)
    report = tmp_path / "report.json"
    assert run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report).code == 1
    found = [f for f in json.loads(report.read_text())["findings"] if f["check"] == "image_path"]
    assert [f["entry"] for f in found] == ["images[id=2]"] and "symlink" in found[0]["message"]
    grid = tmp_path / "grid.png"
    assert_user_error(run_cli(*_show(loose, grid)), file=loose.ann, entry="images[id=2]", says="outside the image root")
    assert_nothing_written(grid)


def test_very_long_file_name(loose: LooseCoco, tmp_path: Path) -> None:
    d = coco_dict()
    d["images"][1]["file_name"] = "x" * 300 + ".png"
    loose.write(d)
    report = tmp_path / "report.json"
    assert run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report).code == 1
    found = [f for f in json.loads(report.read_text())["findings"] if f["entry"] == "images[id=2]"]
    assert [f["check"] for f in found] == ["image_missing"] and "too long" in found[0]["message"]
    grid = tmp_path / "grid.png"
    assert_user_error(run_cli(*_show(loose, grid)), file=loose.images / d["images"][1]["file_name"], entry="images[id=2]", says="too long")
    assert_nothing_written(grid)


def test_non_utf8_file_name_on_disk(loose: LooseCoco, tmp_path: Path) -> None:
    """A Latin-1 name on disk is not the UTF-8 name a JSON file can hold: reported as missing, by entry."""
    (loose.images / "b.png").unlink()
    write_png(loose.images / os.fsdecode(b"caf\xe9.png"))
    d = coco_dict()
    d["images"][1]["file_name"] = "café.png"
    loose.write(d)
    report = tmp_path / "report.json"
    assert run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report).code == 1
    found = [f for f in json.loads(report.read_text())["findings"] if f["entry"] == "images[id=2]"]
    assert [f["check"] for f in found] == ["image_missing"] and "café.png" in found[0]["message"]


# ------------------------------------------------------------------------ metas
def _meta(path: Path, **changes: object) -> Path:
    d = {"name": "face", "category": "face", "skeleton": [[0, 1], [0, 2]], "sigmas": [0.03, 0.03, 0.03],
         "keypoints": [{"name": "nose"}, {"name": "left_eye", "swap": "right_eye"}, {"name": "right_eye", "swap": "left_eye"}]}
    d.update(changes)
    path.write_text(yaml.safe_dump(d))
    return path


def test_valid_meta_fixture_loads(loose: LooseCoco, tmp_path: Path) -> None:
    r = run_cli("data", "info", loose.ann, "--images", loose.images, "--meta", _meta(tmp_path / "meta.yaml"))
    assert r.code == 0, r.err


EYES = [{"name": "nose"}, {"name": "left_eye", "swap": "right_eye"}]
META_CASES = {
    "swap-not-mutual": ({"keypoints": [*EYES, {"name": "right_eye", "swap": "nose"}]}, "keypoints[1] left_eye", "not mutual"),
    "swap-unknown-name": ({"keypoints": [{"name": "nose"}, {"name": "left_eye", "swap": "right_ear"}, {"name": "right_eye"}]},
                          "keypoints[1] left_eye", "'right_ear' is not a keypoint"),
    "skeleton-out-of-range": ({"skeleton": [[0, 7]]}, "skeleton[0]", "unknown keypoint 7"),
    "sigmas-wrong-length": ({"sigmas": [0.03, 0.03]}, "sigmas", "2 sigmas for 3 keypoints"),
    "unknown-meta-key": ({"flip_pairs": [[1, 2]]}, "flip_pairs", "unknown key"),
    "keypoint-count-differs": ({"keypoints": [*EYES, {"name": "right_eye", "swap": "left_eye"}, {"name": "tail"}], "sigmas": None},
                               "categories", "categories define 3 keypoints, the meta 4"),
}


@pytest.mark.parametrize("changes,entry,says", list(META_CASES.values()), ids=list(META_CASES))
def test_bad_meta_refused(changes: dict[str, object], entry: str, says: str, loose: LooseCoco, tmp_path: Path) -> None:
    meta = _meta(tmp_path / "meta.yaml", **changes)
    r = run_cli("data", "info", loose.ann, "--images", loose.images, "--meta", meta)
    assert_user_error(r, file=loose.ann if entry == "categories" else meta, entry=entry, says=says)
