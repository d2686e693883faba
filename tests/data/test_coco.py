import json
import os
from pathlib import Path

import numpy as np
import pytest

from pose.data.coco import boxes_from_keypoints, build_coco, coco_from_dict, load_coco, resolve_image_path, save_coco
from pose.errors import DataError


def _coco(k: int = 3, **ann_overrides) -> dict:
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "area": 1200.0, "iscrowd": 0,
           "num_keypoints": 2, "keypoints": [12.5, 22.25, 2, 30, 50, 1] + [0, 0, 0] * (k - 2)}
    ann.update(ann_overrides)
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "annotations": [ann],
        "categories": [{"id": 1, "name": "thing", "keypoints": [f"k{i}" for i in range(k)], "skeleton": [[1, 2]]}],
    }


def test_arrays_and_xyxy_inside() -> None:
    d = coco_from_dict(_coco())
    assert d.bboxes.tolist() == [[10, 20, 40, 60]]
    assert d.keypoints.shape == (1, 3, 2) and d.keypoints.dtype == np.float32
    assert d.visibility.tolist() == [[2, 1, 0]]
    assert d.num_labelled.tolist() == [2]


def test_save_load_round_trip(tmp_path: Path) -> None:
    d = coco_from_dict(_coco())
    save_coco(d, tmp_path / "x.json")
    d2 = load_coco(tmp_path / "x.json")
    np.testing.assert_allclose(d2.keypoints, d.keypoints, atol=1e-3)
    np.testing.assert_allclose(d2.bboxes, d.bboxes, atol=1e-3)
    assert json.loads((tmp_path / "x.json").read_text())["annotations"][0]["bbox"] == [10, 20, 30, 40]


def test_real_minicoco_matches_pycocotools(shared_data: Path) -> None:
    from pycocotools.coco import COCO

    f = shared_data / "coco_person_minicoco/annotations/person_keypoints_train2017.json"
    d = load_coco(f, image_root=shared_data / "coco_person_minicoco/images/train2017")
    ref = COCO(str(f))
    assert len(d) == len(ref.anns) == 87
    assert int((d.num_labelled > 0).sum()) == 53
    assert int(d.iscrowd.sum()) == 1
    for r, aid in enumerate(d.ann_ids[:20]):
        a = ref.anns[int(aid)]
        x, y, w, h = a["bbox"]
        np.testing.assert_allclose(d.bboxes[r], [x, y, x + w, y + h], atol=1e-3)
        kp = np.asarray(a["keypoints"], np.float32).reshape(-1, 3)
        np.testing.assert_array_equal(d.visibility[r], kp[:, 2])
    assert d.image_path(0).is_file()


@pytest.mark.parametrize("override,msg", [
    ({"keypoints": [1, 2, 2]}, r"annotations\[id=1\]\.keypoints: expected 9 values"),
    ({"keypoints": [float("nan"), 1, 2, 0, 0, 0, 0, 0, 0]}, "NaN or infinite"),
    ({"keypoints": [1, 1, 3, 0, 0, 0, 0, 0, 0]}, "visibility must be 0, 1 or 2"),
    ({"keypoints": ["a", 1, 2, 0, 0, 0, 0, 0, 0]}, "keypoints must be numbers"),
    ({"bbox": [0, 0, 0, 5]}, "zero or negative size"),
    ({"bbox": [0, 0, 5]}, r"bbox must be \[x, y, w, h\]"),
    ({"image_id": 7}, "image_id 7 is not in images"),
    ({"category_id": 9}, "category_id 9 is not in categories"),
    ({"iscrowd": 5}, "iscrowd must be 0 or 1"),
    ({"id": "x"}, r"annotations\[0\]: 'id' must be an integer"),
])
def test_bad_annotations_name_the_entry(override: dict, msg: str) -> None:
    with pytest.raises(DataError, match=msg):
        coco_from_dict(_coco(**override), source="f.json")


def test_structural_errors(tmp_path: Path) -> None:
    d = _coco()
    d["images"].append(dict(d["images"][0]))
    with pytest.raises(DataError, match=r"images\[id=1\]: duplicate image id"):
        coco_from_dict(d)
    with pytest.raises(DataError, match="missing 'annotations'"):
        coco_from_dict({"images": [], "categories": []})
    with pytest.raises(DataError, match="got a JSON list"):
        coco_from_dict([])
    with pytest.raises(DataError, match="dataset is empty"):
        coco_from_dict({"images": [], "annotations": [], "categories": _coco()["categories"]})
    d = _coco()
    d["categories"][0]["keypoints"] = []
    with pytest.raises(DataError, match="keypoint count is unknown"):
        coco_from_dict(d)
    (tmp_path / "bad.json").write_text("{\"images\": [")
    with pytest.raises(DataError, match=r"bad.json: invalid JSON"):
        load_coco(tmp_path / "bad.json")
    (tmp_path / "latin1.json").write_bytes(b'{"images": "\xe9"}')
    with pytest.raises(DataError, match="not valid UTF-8"):
        load_coco(tmp_path / "latin1.json")
    with pytest.raises(DataError, match="file not found"):
        load_coco(tmp_path / "nope.json")


def test_missing_fields_are_derived_and_counted() -> None:
    d = _coco()
    a = d["annotations"][0]
    for key in ("bbox", "area", "iscrowd", "num_keypoints"):
        del a[key]
    c = coco_from_dict(d)
    assert c.filled == {"bbox (from keypoints)": 1, "area (bbox area)": 1, "iscrowd": 1, "num_keypoints": 1}
    x0, y0, x1, y1 = c.bboxes[0]
    assert x0 < 12.5 and y0 < 22.25 and x1 > 30 and y1 > 50
    assert c.areas[0] == pytest.approx((x1 - x0) * (y1 - y0))


def test_boxes_from_keypoints_pads_and_clips() -> None:
    kp = np.array([[[10, 10], [50, 30]], [[0, 0], [0, 0]]], np.float32)
    vis = np.array([[2, 2], [0, 0]], np.uint8)
    box, has = boxes_from_keypoints(kp, vis, widths=np.array([100, 100]), heights=np.array([35, 35]))
    assert has.tolist() == [True, False]
    np.testing.assert_allclose(box[0], [6, 6, 54, 34])
    assert box[1].tolist() == [0, 0, 0, 0]


def test_image_paths_cannot_escape_root(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", root / "link.jpg")
    assert resolve_image_path(root, "sub/a.jpg") == root / "sub" / "a.jpg"
    for bad in ["../secret.jpg", "/etc/passwd", "a/../../secret.jpg", "C:\\x.jpg", "link.jpg"]:
        with pytest.raises(DataError):
            resolve_image_path(root, bad)
    d = _coco()
    d["images"][0]["file_name"] = "../secret.jpg"
    with pytest.raises(DataError, match="escapes the image root"):
        coco_from_dict(d, image_root=root)


def test_build_coco_defaults() -> None:
    kp = np.array([[[10, 10], [20, 30]]], np.float32)
    c = build_coco(file_names=["a.png"], widths=[64], heights=[48], ann_image_rows=[0], keypoints=kp,
                   visibility=np.array([[2, 0]]), categories=[{"id": 1, "name": "x", "keypoints": ["a", "b"]}])
    assert c.keypoints[0, 1].tolist() == [0, 0]
    assert c.ann_ids.tolist() == [1] and c.ann_image_ids.tolist() == [1]
    assert c.filled["bbox (from keypoints)"] == 1
    assert c.areas[0] > 0


def test_load_20k_annotations_is_fast(tmp_path: Path) -> None:
    """Correctness at scale (timing lives in benchmarks/bench_coco_load.py)."""
    rng = np.random.default_rng(0)
    n, k = 20_000, 17
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(5000)]
    kp = np.concatenate([rng.uniform(0, 400, (n, k, 2)).round(2), rng.integers(0, 3, (n, k, 1))], axis=2)
    anns = [{"id": i, "image_id": i % 5000, "category_id": 1, "bbox": [1, 2, 30, 40], "area": 1200, "iscrowd": 0,
             "num_keypoints": 0, "keypoints": kp[i].reshape(-1).tolist()} for i in range(n)]
    cats = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(k)]}]
    (tmp_path / "big.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    d = load_coco(tmp_path / "big.json", image_root=None)
    assert len(d) == n
    np.testing.assert_array_equal(d.visibility, kp[..., 2])
    assert len(d.ann_rows_by_image()[7]) == 4


def test_fingerprint_follows_labels_and_image_files(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x" * 10)
    d = coco_from_dict(_coco(), image_root=tmp_path)
    base = d.fingerprint()
    assert coco_from_dict(_coco(), image_root=tmp_path).fingerprint() == base
    assert coco_from_dict(_coco(keypoints=[12.5, 22.0, 2, 30, 50, 1, 0, 0, 0]), image_root=tmp_path).fingerprint() != base
    (tmp_path / "a.jpg").write_bytes(b"x" * 11)
    assert d.fingerprint() != base
