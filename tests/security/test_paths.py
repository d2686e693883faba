"""Paths from datasets and params stay inside their roots: no absolute or ``..`` image names,
no symlink out of the image root or out of data/, in loading, validation and the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose.data.coco import load_coco, resolve_image_path
from pose.data.validate import validate
from pose.errors import ConfigError, DataError
from pose.params import DataParams
from pose.pipeline.prepare import source_dir

K = 17


def _coco(tmp_path: Path, file_name: str) -> Path:
    kp = [10.0, 10.0, 2] * K
    d = {"images": [{"id": 1, "file_name": file_name, "width": 32, "height": 32}],
         "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": K,
                          "bbox": [0, 0, 20, 20], "area": 400, "iscrowd": 0}],
         "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(K)], "skeleton": []}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(d))
    return path


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """(image root holding a.jpg, an outside folder holding secret.jpg)."""
    root, outside = tmp_path / "images", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a.jpg").write_bytes(b"\xff\xd8inside")
    (outside / "secret.jpg").write_bytes(b"\xff\xd8secret")
    return root, outside


@pytest.mark.parametrize("name", ["../outside/secret.jpg", "sub/../../outside/secret.jpg", "/etc/passwd", "..\\outside\\secret.jpg"])
def test_escaping_file_names_are_refused_on_load(tmp_path: Path, roots: tuple[Path, Path], name: str) -> None:
    ann = _coco(tmp_path, name)
    with pytest.raises(DataError) as e:
        load_coco(ann, image_root=roots[0])
    assert str(e.value).startswith(f"{ann}: images[id=1]")


def test_symlinks_out_of_the_image_root_are_not_followed(roots: tuple[Path, Path]) -> None:
    root, outside = roots
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "alias.jpg").symlink_to(root / "a.jpg")
    assert resolve_image_path(root, "alias.jpg") == root / "alias.jpg", "a link that stays inside is fine"
    for name in ("link.jpg", "linkdir/secret.jpg"):
        with pytest.raises(DataError, match="outside the image root"):
            resolve_image_path(root, name, source="ann.json", entry="images[id=3]")


def test_loaded_dataset_never_hands_out_an_outside_path(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    root, outside = roots
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    data = load_coco(_coco(tmp_path, "link.jpg"), image_root=root)
    with pytest.raises(DataError) as e:
        data.image_path(0)
    assert "images[id=1]" in str(e.value) and "outside the image root" in str(e.value)


def test_validator_reports_the_escape_as_a_finding(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    root, outside = roots
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    report = validate(_coco(tmp_path, "link.jpg"), root, None)
    text = [f"{f.entry}: {f.message}" for f in report.findings]
    assert any("outside the image root" in t for t in text), text


def test_params_data_path_stays_under_data(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    assert source_dir(tmp_path, DataParams(source="coco", path="data/mine")) == tmp_path / "data/mine"
    (tmp_path / "data" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    for path in ("../elsewhere", str(tmp_path / "elsewhere"), "data/../elsewhere", "data/link"):
        with pytest.raises(ConfigError) as e:
            source_dir(tmp_path, DataParams(source="coco", path=path))
        assert str(e.value).startswith("params/data.yaml: path:"), str(e.value)
