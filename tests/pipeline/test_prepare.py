from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose.data.layout import load_dataset
from pose.errors import ConfigError, DataError
from pose.params import DataParams
from pose.pipeline.prepare import ensure_data, prepare, source_dir, split_by_image, synth_matches

TINY = {"images": 4, "size": 64, "seed": 3}


def _coco(n_images: int) -> dict:
    images = [{"id": i + 10, "file_name": f"{i}.jpg", "width": 64, "height": 64} for i in range(n_images)]
    anns = [{"id": 100 + j, "image_id": 10 + j // 2, "category_id": 1, "bbox": [1, 1, 20, 20], "area": 400, "iscrowd": 0,
             "keypoints": [5, 5, 2, 10, 10, 2], "num_keypoints": 2} for j in range(2 * n_images)]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}]}


def test_split_by_image_keeps_annotations_with_their_image() -> None:
    train, val = split_by_image(_coco(10), 0.3, seed=1)
    assert len(val["images"]) == 3 and len(train["images"]) == 7
    for part in (train, val):
        ids = {im["id"] for im in part["images"]}
        assert {a["image_id"] for a in part["annotations"]} <= ids
    assert len(train["annotations"]) + len(val["annotations"]) == 20
    assert split_by_image(_coco(10), 0.3, seed=1) == (train, val)
    with pytest.raises(DataError, match="at least 2 images"):
        split_by_image(_coco(1), 0.5, seed=0)


def test_prepare_coco_source_without_val_splits_it(tmp_path: Path) -> None:
    src = tmp_path / "data" / "mine"
    (src / "annotations").mkdir(parents=True)
    (src / "images").mkdir()
    (src / "annotations" / "train.json").write_text(json.dumps(_coco(6)))
    params = DataParams(source="coco", path="data/mine", val_fraction=0.5, split_seed=2)
    summary = prepare(tmp_path, params, tmp_path / "build" / "dataset")
    assert summary["splits"]["train"]["images"] == 3 and summary["splits"]["val"]["images"] == 3
    assert sorted(p.name for p in (tmp_path / "build/dataset/annotations").iterdir()) == ["train.json", "val.json"]
    assert not (src / "annotations" / "val.json").exists()


def test_source_path_must_be_under_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="under data/"):
        source_dir(tmp_path, DataParams(source="coco", path="elsewhere/x"))
    with pytest.raises(ConfigError, match="needs a path"):
        source_dir(tmp_path, DataParams(source="dlc"))
    with pytest.raises(DataError, match="no DVC remote"):
        ensure_data(tmp_path, DataParams(source="coco", path="data/missing"))


def test_ensure_data_regenerates_synth_only_when_params_differ(tmp_path: Path) -> None:
    params = DataParams(synth=TINY)
    assert ensure_data(tmp_path, params).startswith("generated")
    assert synth_matches(tmp_path / "data/synth", params)
    mtime = (tmp_path / "data/synth/annotations/train.json").stat().st_mtime_ns
    assert ensure_data(tmp_path, params).endswith("up to date")
    assert (tmp_path / "data/synth/annotations/train.json").stat().st_mtime_ns == mtime
    assert not synth_matches(tmp_path / "data/synth", DataParams(synth={**TINY, "images": 5}))
    with pytest.raises(DataError, match="does not match"):
        prepare(tmp_path, DataParams(synth={**TINY, "seed": 4}), tmp_path / "build/dataset")
    prepare(tmp_path, params, tmp_path / "build/dataset")
    data, meta = load_dataset(tmp_path / "build/dataset", split="val")
    assert meta.name == "coco" and len(data.image_ids) >= 1
