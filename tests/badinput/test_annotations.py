"""Bad COCO annotation files: ``pose data info`` refuses them (exit 2, one line naming file and entry);
``pose data validate`` reports them as findings (exit 1) with the same entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from badinput.support import LooseCoco, Mutation, assert_user_error, coco_dict, run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets ``d[a][b]...`` (ints index lists) to ``value``."""

    def mutate(d: dict[str, Any]) -> dict[str, Any]:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        cur: Any = d
        for p in parents:
            cur = cur[p]
        cur[last] = value
        return d

    return mutate


def _kp(i: int, value: Any) -> Mutation:
    """Set flat keypoint value ``i`` of annotation 10."""

    def mutate(d: dict[str, Any]) -> dict[str, Any]:
        d["annotations"][0]["keypoints"][i] = value
        return d

    return mutate


def _drop(key: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> dict[str, Any]:
        del d[key]
        return d

    return mutate


def _dup(section: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> dict[str, Any]:
        d[section][1]["id"] = d[section][0]["id"]
        return d

    return mutate


def _no_box_no_points(d: dict[str, Any]) -> dict[str, Any]:
    a = d["annotations"][1]
    del a["bbox"]
    a["keypoints"] = [0] * 9
    return d


def _no_keypoint_names(d: dict[str, Any]) -> dict[str, Any]:
    del d["categories"][0]["keypoints"]
    return d


def _empty(d: dict[str, Any]) -> dict[str, Any]:
    return {"images": [], "annotations": [], "categories": d["categories"]}


@dataclass(frozen=True)
class Case:
    mutate: Mutation
    entry: str  # entry named by both the loader's error and the validator's finding
    says: str  # words in the loader's message
    check: str  # validator finding


CASES: dict[str, Case] = {
    "top-level-list": Case(lambda d: [d], "<top>", "got a JSON list", "not_coco"),
    "missing-annotations-key": Case(_drop("annotations"), "<top>", "missing 'annotations'", "not_coco"),
    "images-not-a-list": Case(_set("images", {"1": "a.png"}), "images", "must be a list", "not_coco"),
    "empty-dataset": Case(_empty, "images", "dataset is empty", "not_coco"),
    "image-id-string": Case(_set("images.0.id", "1"), "images[0]", "image id must be an integer", "field_type"),
    "image-width-negative": Case(_set("images.1.width", -48), "images[id=2] b.png", "width/height must be positive", "bad_value"),
    "duplicate-image-id": Case(_dup("images"), "images[id=1]", "duplicate image id", "duplicate_id"),
    "duplicate-annotation-id": Case(_dup("annotations"), "annotations[id=10]", "duplicate annotation id", "duplicate_id"),
    "annotation-image-id-string": Case(_set("annotations.0.image_id", "1"), "annotations[id=10]", "'image_id' must be an integer", "field_type"),
    "annotation-missing-image": Case(_set("annotations.1.image_id", 99), "annotations[id=11]", "image_id 99 is not in images", "image_ref"),
    "annotation-missing-category": Case(_set("annotations.1.category_id", 7), "annotations[id=11]", "category_id 7 is not in categories", "category_ref"),
    "keypoints-too-short": Case(_set("annotations.0.keypoints", [10, 10, 2, 20, 12, 2]), "annotations[id=10].keypoints", "expected 9 values", "keypoint_length"),
    "keypoints-too-long": Case(_set("annotations.0.keypoints", [1, 1, 2] * 4), "annotations[id=10].keypoints", "got 12", "keypoint_length"),
    "keypoint-string": Case(_kp(0, "10"), "annotations[id=10].keypoints", "must be numbers", "keypoint_length"),
    "keypoint-nan": Case(_kp(1, float("nan")), "annotations[id=10].keypoints", "NaN or infinite", "non_finite"),
    "keypoint-inf": Case(_kp(3, float("inf")), "annotations[id=10].keypoints", "NaN or infinite", "non_finite"),
    "visibility-3": Case(_kp(5, 3), "annotations[id=10].keypoints", "visibility must be 0, 1 or 2, got [3.0]", "visibility"),
    "visibility-negative": Case(_kp(8, -1), "annotations[id=10].keypoints", "visibility must be 0, 1 or 2, got [-1.0]", "visibility"),
    "bbox-zero-width": Case(_set("annotations.0.bbox", [5, 5, 0, 25]), "annotations[id=10].bbox", "zero or negative size", "bbox_invalid"),
    "bbox-negative-height": Case(_set("annotations.1.bbox", [5, 5, 30, -2]), "annotations[id=11].bbox", "zero or negative size", "bbox_invalid"),
    "bbox-wrong-type": Case(_set("annotations.0.bbox", "5,5,30,25"), "annotations[id=10].bbox", "must be [x, y, w, h]", "bbox_invalid"),
    "iscrowd-2": Case(_set("annotations.0.iscrowd", 2), "annotations[id=10].iscrowd", "iscrowd must be 0 or 1", "bad_value"),
    "no-bbox-no-keypoints": Case(_no_box_no_points, "annotations[id=11]", "no bbox and no labelled keypoints", "no_bbox_no_keypoints"),
    "no-keypoint-names": Case(_no_keypoint_names, "categories", "keypoint", "meta_missing"),
}


def _entry_of_finding(findings: list[dict[str, Any]], check: str) -> list[str]:
    return [f["entry"] for f in findings if f["check"] == check]


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_annotations_refused_and_reported(case: Case, loose: LooseCoco, tmp_path: Path) -> None:
    loose.write(case.mutate(coco_dict()))
    r = run_cli("data", "info", loose.ann, "--images", loose.images)
    assert_user_error(r, file=loose.ann, entry=case.entry, says=case.says)

    report = tmp_path / "out" / "report.json"
    v = run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report)
    assert v.code == 1 and "Traceback" not in v.err + v.out, v.out + v.err
    findings = json.loads(report.read_text())["findings"]
    entries = _entry_of_finding(findings, case.check)
    assert entries, f"no '{case.check}' finding in {findings}"
    if case.check not in ("not_coco", "meta_missing"):
        stem = case.entry.split(" ")[0].split(".")[0].split("[id=")[0]
        assert any(e.startswith(stem) for e in entries), entries


RAW: dict[str, tuple[bytes, str]] = {
    "zero-byte-json": (b"", "empty file, expected JSON"),
    "invalid-json": (b'{"images": [}', "invalid JSON"),
    "truncated-json": (json.dumps(coco_dict()).encode()[:150], "invalid JSON"),
    "non-utf8-json": (json.dumps(coco_dict()).replace("face", "fa\udce7e").encode("utf-8", "surrogateescape"), "not valid UTF-8"),
}


@pytest.mark.parametrize("raw,says", list(RAW.values()), ids=list(RAW))
def test_unreadable_json(raw: bytes, says: str, loose: LooseCoco, tmp_path: Path) -> None:
    loose.ann.write_bytes(raw)
    assert_user_error(run_cli("data", "info", loose.ann, "--images", loose.images), file=loose.ann, says=says)
    report = tmp_path / "report.json"
    v = run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report)
    assert v.code == 1 and "Traceback" not in v.err + v.out
    found = json.loads(report.read_text())["findings"]
    assert [f["check"] for f in found] == ["not_coco"] and says.lower() in found[0]["message"].lower()


def test_negative_and_outside_coordinates_are_findings(loose: LooseCoco, tmp_path: Path) -> None:
    """The loader keeps them (crops may leave the image); the validator flags each one by entry."""
    d = coco_dict()
    d["annotations"][0]["keypoints"][0] = -5.0
    d["annotations"][1]["keypoints"][4] = 400.0
    loose.write(d)
    report = tmp_path / "report.json"
    v = run_cli("data", "validate", loose.ann, "--images", loose.images, "--json", report)
    assert v.code == 1, v.out
    outside = {f["entry"].split(".")[0] for f in json.loads(report.read_text())["findings"] if f["check"] == "keypoint_outside"}
    assert outside == {"annotations[id=10]", "annotations[id=11]"}


def test_missing_validate_target_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    report = tmp_path / "report.json"
    assert_user_error(run_cli("data", "validate", missing, "--json", report), file=missing, says="not found")
    assert not report.exists()
