"""The dataset validator: one broken fixture per check, the real mmpose samples, reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from rich.console import Console

from pose.data.meta import DatasetMeta, load_meta
from pose.data.validate import CHECKS, ValidationReport, validate, validate_source

NAMES = ["nose", "left_eye", "right_eye", "left_hip", "right_hip"]
W, H = 64, 48


def _ann(i: int, image_id: int, dx: float = 0.0) -> dict[str, Any]:
    kp = [30 + dx, 10, 2, 34 + dx, 8, 2, 26 + dx, 8, 2, 34 + dx, 30, 2, 26 + dx, 30, 1]
    return {"id": i, "image_id": image_id, "category_id": 1, "bbox": [20.0 + dx, 4.0, 20.0, 30.0], "area": 600.0, "iscrowd": 0, "num_keypoints": 5, "keypoints": kp}


def _coco() -> dict[str, Any]:
    return {
        "images": [{"id": i, "file_name": f"im{i}.jpg", "width": W, "height": H} for i in (1, 2)],
        "annotations": [_ann(10, 1), _ann(11, 1, dx=-12), _ann(12, 2)],
        "categories": [{"id": 1, "name": "toy", "keypoints": NAMES, "skeleton": [[1, 2], [1, 3], [4, 5]]}],
    }


@pytest.fixture
def meta() -> DatasetMeta:
    return DatasetMeta.from_dict({"name": "toy", "keypoints": NAMES, "skeleton": [[0, 1], [0, 2], [3, 4]]})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in (1, 2):
        cv2.imwrite(str(tmp_path / f"im{i}.jpg"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    return tmp_path


def run(root: Path, d: Any, meta: DatasetMeta | None, **kw: Any) -> ValidationReport:
    path = root / "ann.json"
    path.write_text(json.dumps(d))
    return validate(path, root, meta, **kw)


def test_clean_fixture_has_no_findings(root: Path, meta: DatasetMeta) -> None:
    r = run(root, _coco(), meta)
    assert r.findings == [] and r.exit_code == 0
    assert r.counts == {"images": 2, "annotations": 3, "categories": 1, "keypoints": 5}


def test_without_meta_the_draft_is_reported(root: Path) -> None:
    r = run(root, _coco(), None)
    assert [f.check for f in r.findings] == ["meta_drafted"]
    assert r.meta is not None and r.meta.keypoint_names == NAMES and not r.has_errors


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets ``d[a][i][b]...`` (``path`` like ``annotations.0.bbox``); ``...`` deletes."""

    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        key = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return mutate


def _kp(j: int, value: Any) -> Callable[[dict[str, Any]], None]:
    return _set(f"annotations.0.keypoints.{j}", value)


def _truncate(root: Path) -> None:
    data = (root / "im1.jpg").read_bytes()
    (root / "im1.jpg").write_bytes(data[: len(data) // 2])


def _append(key: str, item: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d[key].append(item)


# (mutation of the dict, mutation of the image folder, expected check, expected entry)
CASES: dict[str, tuple[Callable[[dict[str, Any]], None] | None, Callable[[Path], None] | None, str, str]] = {
    "bad_entry": (_append("annotations", [1, 2, 3]), None, "bad_entry", "annotations[3]"),
    "id_not_int": (_set("images.1.id", "2"), None, "field_type", "images[1]"),
    "no_file_name": (_set("images.0.file_name", ...), None, "field_type", "images[id=1]"),
    "iscrowd_str": (_set("annotations.2.iscrowd", "no"), None, "field_type", "annotations[id=12]"),
    "width_zero": (_set("images.0.width", 0), None, "bad_value", "images[id=1]"),
    "iscrowd_2": (_set("annotations.1.iscrowd", 2), None, "bad_value", "annotations[id=11]"),
    "dup_image_id": (_set("images.1.id", 1), None, "duplicate_id", "images[id=1]"),
    "dup_ann_id": (_set("annotations.1.id", 10), None, "duplicate_id", "annotations[id=10]"),
    "escape": (_set("images.0.file_name", "../im1.jpg"), None, "image_path", "images[id=1]"),
    "absolute": (_set("images.0.file_name", "/etc/passwd"), None, "image_path", "images[id=1]"),
    "missing_file": (None, lambda r: (r / "im2.jpg").unlink(), "image_missing", "images[id=2]"),
    "truncated": (None, _truncate, "image_unreadable", "images[id=1]"),
    "not_an_image": (None, lambda r: (r / "im2.jpg").write_text("hello"), "image_unreadable", "images[id=2]"),
    "size_mismatch": (_set("images.1.height", 50), None, "image_size_mismatch", "images[id=2]"),
    "image_ref": (_set("annotations.2.image_id", 99), None, "image_ref", "annotations[id=12]"),
    "category_ref": (_set("annotations.2.category_id", 7), None, "category_ref", "annotations[id=12]"),
    "kp_short": (lambda d: d["annotations"][0]["keypoints"].pop(), None, "keypoint_length", "annotations[id=10]"),
    "kp_nested": (_set("annotations.0.keypoints", [[1, 2, 2]] * 5), None, "keypoint_length", "annotations[id=10]"),
    "kp_string": (_kp(4, "x"), None, "keypoint_length", "annotations[id=10]"),
    "kp_nan": (_kp(3, float("nan")), None, "non_finite", "annotations[id=10].keypoints"),
    "bbox_inf": (_set("annotations.0.bbox.2", float("inf")), None, "non_finite", "annotations[id=10]"),
    "visibility": (_kp(5, 3), None, "visibility", "annotations[id=10].keypoints"),
    "kp_outside": (_kp(0, 80.0), None, "keypoint_outside", "annotations[id=10]"),
    "bbox_neg": (_set("annotations.0.bbox.3", -5.0), None, "bbox_invalid", "annotations[id=10]"),
    "bbox_short": (_set("annotations.0.bbox", [1, 2, 3]), None, "bbox_invalid", "annotations[id=10]"),
    "no_bbox_no_kp": (lambda d: d["annotations"][0].update(bbox=None, keypoints=[0] * 15, num_keypoints=0), None, "no_bbox_no_keypoints", "annotations[id=10]"),
    "duplicate": (_append("annotations", {**_ann(13, 2)}), None, "duplicate_annotation", "annotations[id=13]"),
    "bbox_outside": (_set("annotations.2.bbox", [40.0, 4.0, 40.0, 30.0]), None, "bbox_outside", "annotations[id=12]"),
    "num_keypoints": (_set("annotations.0.num_keypoints", 3), None, "num_keypoints", "annotations[id=10]"),
    "missing_area": (_set("annotations.0.area", ...), None, "missing_area", "annotations[id=10]"),
    "missing_iscrowd": (_set("annotations.0.iscrowd", ...), None, "missing_iscrowd", "annotations[id=10]"),
    "missing_num_keypoints": (_set("annotations.0.num_keypoints", ...), None, "missing_num_keypoints", "annotations[id=10]"),
    "missing_bbox": (_set("annotations.0.bbox", ...), None, "missing_bbox", "annotations[id=10]"),
    "category_keypoints": (_set("categories.0.keypoints", ...), None, "category_keypoints", "categories[id=1]"),
    "keypoint_names": (_set("categories.0.keypoints.1", "l_eye"), None, "keypoint_names", "categories[id=1]"),
    "keypoint_count": (_set("categories.0.keypoints", NAMES[:4]), None, "keypoint_count", "categories[id=1]"),
    "skeleton_0": (_set("categories.0.skeleton", [[0, 1]]), None, "skeleton", "categories[id=1].skeleton"),
    "skeleton_range": (_set("categories.0.skeleton", [[1, 6]]), None, "skeleton", "categories[id=1].skeleton"),
    "unannotated": (_append("images", {"id": 3, "file_name": "im1.jpg", "width": W, "height": H}), None, "image_unannotated", "images[id=3]"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_check_finds_its_defect(case: str, root: Path, meta: DatasetMeta) -> None:
    mutate, break_images, check, entry = CASES[case]
    d = _coco()
    if mutate:
        mutate(d)
    if break_images:
        break_images(root)
    r = run(root, d, meta)
    hits = [f for f in r.findings if f.check == check]
    assert hits, f"{case}: expected {check}, got {[(f.check, f.entry, f.message) for f in r.findings]}"
    assert entry in {f.entry for f in hits}
    assert all(f.severity == CHECKS[check][0] for f in hits)
    assert r.has_errors == any(f.severity == "error" for f in r.findings)


def test_all_problems_are_reported_at_once(root: Path, meta: DatasetMeta) -> None:
    d = _coco()
    for key in ("kp_short", "image_ref", "width_zero", "dup_ann_id", "visibility"):
        mutate = CASES[key][0]
        assert mutate is not None
        mutate(d)
    r = run(root, d, meta)
    assert {"keypoint_length", "image_ref", "bad_value", "duplicate_id"} <= r.checks()
    assert r.exit_code == 1


def test_meta_missing_when_no_names_and_no_meta(root: Path) -> None:
    d = _coco()
    del d["categories"][0]["keypoints"]
    r = run(root, d, None)
    assert "meta_missing" in r.checks() and "K=5" in next(f.message for f in r.findings if f.check == "meta_missing")


def test_decode_catches_corrupt_pixels_the_header_read_misses(root: Path, meta: DatasetMeta) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
    png = cv2.imencode(".png", noise)[1].tobytes()
    mid = len(png) // 2
    (root / "im2.png").write_bytes(png[:mid] + b"\x00" * 64 + png[mid + 64 :])
    d = _coco()
    d["images"][1]["file_name"] = "im2.png"
    fast = run(root, d, meta)
    full = run(root, d, meta, decode=True)
    assert "images[id=2]" not in {f.entry for f in fast.findings if f.check == "image_unreadable"}
    assert "images[id=2]" in {f.entry for f in full.findings if f.check == "image_unreadable"}


def test_check_images_false_skips_the_disk(root: Path, meta: DatasetMeta) -> None:
    (root / "im1.jpg").unlink()
    assert run(root, _coco(), meta, check_images=False).findings == []


@pytest.mark.parametrize("top", [[{"image_id": 1, "score": 0.9}], {"0": {"K": [1]}}, {"images": [], "annotations": []}])
def test_non_coco_json_is_one_clear_error(root: Path, top: Any) -> None:
    r = run(root, top, None)
    assert [(f.check, f.severity) for f in r.findings] == [("not_coco", "error")]
    assert "not a COCO keypoints file" in r.findings[0].message


def test_invalid_json_is_a_finding_and_a_missing_file_an_error(root: Path) -> None:
    (root / "bad.json").write_text("{")
    r = validate(root / "bad.json", root, None)
    assert r.checks() == {"not_coco"}
    with pytest.raises(Exception, match="not found"):
        validate(root / "nope.json", root, None)


def test_report_json_table_and_flip_check(root: Path, meta: DatasetMeta, tmp_path: Path) -> None:
    d = _coco()
    d["annotations"][0]["num_keypoints"] = 1
    d["annotations"][1]["keypoints"][2] = 7
    r = run(root, d, meta)
    out = tmp_path / "out" / "report.json"
    pic = r.save(out)
    saved = json.loads(out.read_text())
    assert saved["errors"] == 1 and saved["warnings"] == 1
    assert saved["summary"] == {"visibility": {"severity": "error", "count": 1}, "num_keypoints": {"severity": "warning", "count": 1}}
    assert {f["entry"] for f in saved["findings"]} == {"annotations[id=11].keypoints", "annotations[id=10]"}
    assert pic is not None and saved["flip_check"] == pic.name == "report_flipcheck.png"
    assert cv2.imread(str(pic)).shape[0] > 100
    console = Console(record=True, width=200)
    r.print(console)
    text = console.export_text()
    assert "visibility" in text and "annotations[id=11].keypoints" in text and "FAILED" in text


def test_validate_source_dataset_folder_and_bad_meta(root: Path, meta: DatasetMeta, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    (ds / "annotations").mkdir(parents=True)
    (ds / "images").mkdir()
    for p in root.glob("*.jpg"):
        (ds / "images" / p.name).write_bytes(p.read_bytes())
    (ds / "annotations" / "val.json").write_text(json.dumps(_coco()))
    meta.save(ds / "meta.yaml")
    assert validate_source(ds, split="val").findings == []
    (ds / "bad.yaml").write_text("name: [")
    r = validate_source(ds, split="val", meta=ds / "bad.yaml")
    assert [f.check for f in r.findings] == ["meta_invalid", "meta_drafted"]


# ------------------------------------------------------------------------ real samples
# File -> checks that must be found (errors exactly; warnings at least), from COCO_STYLE.txt.
# mhp's "bbox outside image" is a 1 px overshoot (x1 = 299 on a 298 px image): within tolerance.
# posetrack18's iscrowd is JSON false (accepted as 0, as pycocotools does).
SAMPLES: dict[str, tuple[set[str], set[str]]] = {
    "300vw/anno_300vw.json": ({"meta_missing"}, {"missing_bbox"}),
    "300w/test_300w.json": ({"meta_missing"}, set()),
    "aflw/test_aflw.json": ({"meta_missing"}, set()),
    "aic/test_aic.json": (set(), {"missing_area", "missing_iscrowd"}),
    "ak/test_animalkingdom.json": ({"skeleton", "category_ref"}, set()),
    "animalpose/test_animalpose.json": (set(), set()),
    "ap10k/test_ap10k.json": (set(), set()),
    "atrw/test_atrw.json": ({"skeleton"}, set()),
    "coco/test_coco.json": (set(), set()),
    "coco/test_keypoint_partition_metric.json": ({"keypoint_length"}, set()),
    "crowdpose/test_crowdpose.json": ({"skeleton"}, {"num_keypoints", "missing_area"}),
    "deepfasion2/deepfasion2.json": (set(), set()),
    "exlpose/test_exlpose.json": ({"skeleton"}, {"missing_area"}),
    "fld/test_fld.json": (set(), set()),
    "fly/test_fly.json": (set(), set()),
    "freihand/test_freihand.json": (set(), {"missing_num_keypoints"}),
    "h36m/h36m_coco.json": ({"skeleton", "image_missing"}, set()),
    "halpe/test_halpe.json": ({"meta_missing", "image_missing"}, set()),
    "horse10/test_horse10.json": (set(), set()),
    "humanart/test_humanart.json": ({"image_missing", "keypoint_length"}, set()),
    "jhmdb/test_jhmdb_sub1.json": (set(), {"missing_area", "missing_iscrowd", "missing_num_keypoints"}),
    "lapa/test_lapa.json": ({"meta_missing"}, set()),
    "locust/test_locust.json": (set(), set()),
    "macaque/test_macaque.json": (set(), set()),
    "mhp/test_mhp.json": (set(), set()),
    "mpii/test_mpii_trb.json": (set(), {"missing_bbox", "missing_area", "missing_num_keypoints"}),
    "onehand10k/test_onehand10k.json": (set(), {"missing_num_keypoints"}),
    "panoptic/test_panoptic.json": (set(), {"missing_num_keypoints"}),
    "posetrack18/annotations/test_posetrack18_val.json": ({"image_missing", "keypoint_outside"}, {"missing_area", "bbox_outside"}),
    "posetrack18/annotations/val/003418_mpii_test.json": ({"image_missing"}, {"missing_area", "bbox_outside"}),
    "rhd/test_rhd.json": ({"keypoint_length"}, {"missing_num_keypoints"}),
    "ubody3d/ubody3d_train.json": ({"meta_missing", "image_missing"}, set()),
    "wflw/test_wflw.json": ({"meta_missing"}, set()),
    "zebra/test_zebra.json": (set(), set()),
}


def _coco_style_files(shared: Path) -> dict[str, str]:
    lines = (shared / "mmpose_samples" / "COCO_STYLE.txt").read_text().splitlines()
    return {ln.split()[1].rstrip(":"): ln.split()[0] for ln in lines if ln.startswith(("COCO ", "OTHER "))}


def test_every_listed_file_is_pinned(shared_data: Path) -> None:
    listed = _coco_style_files(shared_data)
    coco = {f for f, kind in listed.items() if kind == "COCO"}
    assert coco - set(SAMPLES) <= {"300wlp/test_300wlp.json", "cofw/test_cofw.json", "coco/test_coco_wholebody.json", "posetrack18/annotations/val/009473_mpii_test.json", "posetrack18/annotations/val/012834_mpii_test.json"}
    assert set(SAMPLES) <= coco


@pytest.mark.parametrize("name", list(SAMPLES))
def test_mmpose_samples(name: str, shared_data: Path) -> None:
    path = shared_data / "mmpose_samples" / name
    r = validate(path, path.parent, None)
    errors, warnings = SAMPLES[name]
    assert {f.check for f in r.errors} == errors
    assert warnings <= {f.check for f in r.warnings}
    assert r.exit_code == (1 if errors else 0)


def test_mmpose_non_coco_files(shared_data: Path) -> None:
    others = [f for f, kind in _coco_style_files(shared_data).items() if kind == "OTHER"]
    assert len(others) >= 10
    for name in others:
        path = shared_data / "mmpose_samples" / name
        r = validate(path, path.parent, None)
        assert [f.check for f in r.findings] == ["not_coco"], name


def test_crowdpose_num_keypoints_mismatch_is_found(shared_data: Path) -> None:
    path = shared_data / "mmpose_samples" / "crowdpose" / "test_crowdpose.json"
    d = json.loads(path.read_text())
    mismatched = {f"annotations[id={a['id']}]" for a in d["annotations"] if a["num_keypoints"] != sum(v > 0 for v in a["keypoints"][2::3])}
    found = [f for f in validate(path, path.parent, None).findings if f.check == "num_keypoints"]
    assert {f.entry for f in found} == mismatched
    assert all(f.severity == "warning" for f in found)


def test_coco_minicoco_with_preset_has_only_unannotated_images(shared_data: Path) -> None:
    base = shared_data / "coco_person_minicoco"
    ann = base / "annotations" / "person_keypoints_train2017.json"
    d = json.loads(ann.read_text())
    empty = {im["id"] for im in d["images"]} - {a["image_id"] for a in d["annotations"]}
    r = validate(ann, base / "images" / "train2017", load_meta("coco"), decode=True)
    assert r.checks() == ({"image_unannotated"} if empty else set())
    assert len(r.findings) == len(empty)


def test_dlc_openfield_swapped_ears_are_found(shared_data: Path, tmp_path: Path) -> None:
    base = shared_data / "dlc_openfield"
    r = validate(base / "coco" / "annotations.json", base, None)
    assert not r.has_errors
    # frame img0102 has leftear/rightear labelled the other way round from its neighbours
    assert [f.entry for f in r.findings if f.check == "lr_swap"] == ["annotations[id=103]"]
    assert r.save(tmp_path / "report.json") is not None
