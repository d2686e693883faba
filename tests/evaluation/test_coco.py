"""COCO keypoint AP via pycocotools: rescoring, OKS-NMS, dumped results, golden numbers."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from rich.console import Console

from pose.data.coco import coco_from_dict, load_coco
from pose.data.meta import SigmaDefaultWarning, load_meta
from pose.errors import DataError
from pose.evaluation.coco import (
    RESULTS_NAME,
    evaluate_files,
    evaluate_keypoints,
    oks_nms,
    oks_pairwise,
    parse_results,
    print_metrics,
    rescore,
)

GOLDEN = Path(__file__).parent / "golden"
COCO_META = load_meta("coco")


def person(rng: np.random.Generator, x0: float, y0: float, w: float, h: float, k: int = 17) -> np.ndarray:
    return np.stack([x0 + rng.uniform(0.1, 0.9, k) * w, y0 + rng.uniform(0.1, 0.9, k) * h], 1).round(2)


def make_gt(people: list[tuple[int, np.ndarray, np.ndarray]], crowd: list[tuple[int, list[float]]] = ()) -> dict[str, Any]:
    """A COCO dict: ``people`` = (image_id, keypoints (K, 2), visibility (K,)), boxes around them."""
    k = people[0][1].shape[0] if people else 17
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 1000, "height": 1000} for i in sorted({p[0] for p in people} | {c[0] for c in crowd})]
    anns = []
    for n, (iid, kp, vis) in enumerate(people, start=1):
        lab = kp[vis > 0]
        x0, y0 = lab.min(0) - 5
        x1, y1 = lab.max(0) + 5
        flat = np.concatenate([np.where(vis[:, None] > 0, kp, 0), vis[:, None]], 1).reshape(-1)
        anns.append({"id": n, "image_id": iid, "category_id": 1, "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                     "area": float((x1 - x0) * (y1 - y0)), "iscrowd": 0, "num_keypoints": int((vis > 0).sum()),
                     "keypoints": [int(v) if j % 3 == 2 else float(v) for j, v in enumerate(flat)]})
    for n, (iid, box) in enumerate(crowd, start=len(people) + 1):
        anns.append({"id": n, "image_id": iid, "category_id": 1, "bbox": box, "area": box[2] * box[3], "iscrowd": 1,
                     "num_keypoints": 0, "keypoints": [0] * (3 * k)})
    cats = [{"id": 1, "name": "person", "keypoints": COCO_META.keypoint_names[:k] if k == 17 else [f"k{i}" for i in range(k)]}]
    return {"images": images, "annotations": anns, "categories": cats}


def result(iid: int, kp: np.ndarray, score: float = 1.0, **extra: Any) -> dict[str, Any]:
    flat = np.concatenate([kp, np.ones((len(kp), 1))], 1).reshape(-1).tolist()
    return {"image_id": iid, "category_id": 1, "keypoints": flat, "score": score, **extra}


@pytest.fixture
def scene() -> tuple[dict[str, Any], list[np.ndarray]]:
    """Four people on two images, all keypoints visible, sizes medium and large."""
    rng = np.random.default_rng(0)
    kps = [person(rng, 10, 10, 300, 400), person(rng, 500, 100, 60, 90), person(rng, 50, 50, 200, 250), person(rng, 600, 500, 80, 70)]
    vis = np.full(17, 2)
    return make_gt([(1, kps[0], vis), (1, kps[1], vis), (2, kps[2], vis), (2, kps[3], vis)]), kps


def noisy(kps: list[np.ndarray], scale: float, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [result(1 if i < 2 else 2, kp + rng.normal(0, scale, kp.shape), score=1.0 - 0.1 * i, ann_id=i + 1) for i, kp in enumerate(kps)]


def reference_stats(gt_file: Path, dets: list[dict[str, Any]], sigmas: np.ndarray) -> np.ndarray:
    """pycocotools on its own, straight from the files."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        ev = COCOeval(coco, coco.loadRes(dets), iouType="keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


# ---------------------------------------------------------------- end to end
def test_perfect_predictions_score_one(scene, tmp_path: Path) -> None:
    d, kps = scene
    gt = coco_from_dict(d)
    m = evaluate_keypoints(gt, noisy(kps, 0.0), COCO_META, out_dir=tmp_path)
    for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "PCK@0.05", "PCK@0.1"):
        assert m[key] == pytest.approx(1.0), key
    assert m["EPE"] == pytest.approx(0.0, abs=1e-3)
    assert m["gt_boxes"] is True and m["sigmas_defaulted"] is False
    assert m["pck_instances"] == 4 and m["pck_missing"] == 0


def test_equals_pycocotools_on_the_same_files(scene, tmp_path: Path) -> None:
    d, kps = scene
    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps(d))
    dets = noisy(kps, 6.0)
    pred_file = tmp_path / "pred.json"
    pred_file.write_text(json.dumps(dets))
    ours = evaluate_keypoints(load_coco(gt_file), pred_file, COCO_META, nms_thr=None)
    ref = reference_stats(gt_file, json.loads(pred_file.read_text()), COCO_META.sigmas.astype(np.float64))
    assert 0.0 < ours["AP"] < 1.0
    keys = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
    assert [ours[k] for k in keys] == pytest.approx(ref.tolist(), abs=1e-9)


def test_golden_numbers_are_pinned() -> None:
    """Committed GT + detections (with a duplicate, a false positive, a crowd region).

    These numbers are the evaluator's output when they were committed; a change here means
    the evaluation (ours or pycocotools) changed and must be explained before re-pinning.
    """
    gt = load_coco(GOLDEN / "gt.json")
    m = evaluate_keypoints(gt, GOLDEN / "pred.json", COCO_META)
    got = {k: round(m[k], 4) for k in ("AP", "AP50", "AP75", "APm", "APl", "AR")}
    assert got == {"AP": 0.2438, "AP50": 0.3764, "AP75": 0.2122, "APm": 0.1904, "APl": 0.3554, "AR": 0.3556}
    assert (m["num_results"], m["num_after_nms"], m["num_gt"]) == (11, 10, 9)


def test_scored_file_is_the_saved_file(tmp_path: Path) -> None:
    gt = load_coco(GOLDEN / "gt.json")
    m = evaluate_keypoints(gt, GOLDEN / "pred.json", COCO_META, out_dir=tmp_path)
    saved = tmp_path / RESULTS_NAME
    assert m["results_file"] == str(saved)
    entries = json.loads(saved.read_text())
    assert len(entries) == m["num_after_nms"]
    assert set(entries[0]) >= {"image_id", "category_id", "keypoints", "score"}
    assert not [p for p in tmp_path.iterdir() if p.name != RESULTS_NAME]  # no temp leftovers
    gt_file = GOLDEN / "gt.json"
    ref = reference_stats(gt_file, entries, COCO_META.sigmas.astype(np.float64))
    assert m["AP"] == pytest.approx(ref[0], abs=1e-12)
    again = evaluate_keypoints(gt, saved, COCO_META, out_dir=tmp_path / "again")
    assert again["AP"] == m["AP"] and again["num_after_nms"] == m["num_after_nms"]


def test_larger_sigmas_give_higher_ap(scene) -> None:
    d, kps = scene
    gt = coco_from_dict(d)
    dets = noisy(kps, 8.0)
    base = evaluate_keypoints(gt, dets, COCO_META, nms_thr=None)
    wide = replace(COCO_META, sigmas=COCO_META.sigmas * 2)
    wider = evaluate_keypoints(gt, dets, wide, nms_thr=None)
    assert wider["AP"] > base["AP"]
    assert wider["PCK@0.05"] == base["PCK@0.05"]  # distance metrics do not depend on sigmas


def test_crowd_region_is_ignored_as_coco_does(scene) -> None:
    d, kps = scene
    d = make_gt([(1, kps[0], np.full(17, 2))], crowd=[(1, [600.0, 600.0, 300.0, 300.0])])
    gt = coco_from_dict(d)
    hit = result(1, kps[0], 0.9)
    in_crowd = result(1, person(np.random.default_rng(3), 620, 620, 250, 250), 0.95)
    alone = evaluate_keypoints(gt, [hit], COCO_META)
    with_crowd_det = evaluate_keypoints(gt, [hit, in_crowd], COCO_META)
    assert alone["AP"] == pytest.approx(1.0) and alone["AR"] == pytest.approx(1.0)
    assert with_crowd_det["AP"] == pytest.approx(1.0)  # a detection on a crowd is not a false positive
    assert alone["num_gt"] == 1


def test_defaulted_sigmas_are_flagged_and_printed_loudly(scene) -> None:
    d, kps = scene
    gt = coco_from_dict(d)
    bare = replace(COCO_META, sigmas=None)
    with pytest.warns(SigmaDefaultWarning):
        m = evaluate_keypoints(gt, noisy(kps, 3.0), bare)
    assert m["sigmas_defaulted"] is True
    console = Console(record=True, width=120)
    print_metrics(m, console)
    text = console.export_text()
    assert "WARNING" in text and "sigmas" in text and "AP" in text


def test_pckh_for_metas_with_head_keypoints() -> None:
    mpii = load_meta("mpii")
    rng = np.random.default_rng(5)
    kp = person(rng, 100, 100, 200, 300, k=16)
    kp[mpii.keypoint_names.index("upper_neck")] = [200, 150]
    kp[mpii.keypoint_names.index("head_top")] = [200, 110]  # head segment 40 px -> PCKh@0.5 radius 20 px
    d = make_gt([(1, kp, np.full(16, 2))])
    d["categories"][0]["keypoints"] = mpii.keypoint_names
    gt = coco_from_dict(d)
    shifted = kp.copy()
    shifted[:8, 0] += 25  # 8 of 16 keypoints 25 px off
    shifted[8:, 0] += 15
    m = evaluate_keypoints(gt, [result(1, shifted, ann_id=1)], mpii)
    assert m["PCKh@0.5"] == pytest.approx(0.5)
    assert m["EPE"] == pytest.approx(20.0)


# ---------------------------------------------------------------- pieces
def test_rescore_formula() -> None:
    kpt = np.array([[0.1, 0.5, 0.9, 0.2], [0.1, 0.15, 0.2, 0.05]])
    got = rescore(np.array([0.8, 0.9]), kpt, thr=0.2)
    assert got == pytest.approx([0.8 * (0.5 + 0.9) / 2, 0.0])


def test_rescoring_uses_bbox_score_only_where_given(scene, tmp_path: Path) -> None:
    d, kps = scene
    gt = coco_from_dict(d)
    dets = [result(1, kps[0], 0.33), result(1, kps[1], 0.5, bbox_score=0.6)]
    dets[1]["keypoints"][2::3] = [0.1] * 8 + [0.5] * 9
    evaluate_keypoints(gt, dets, COCO_META, out_dir=tmp_path)
    saved = json.loads((tmp_path / RESULTS_NAME).read_text())
    assert sorted(e["score"] for e in saved) == pytest.approx([0.3, 0.33])


def test_oks_pairwise_matches_mmpose_loop() -> None:
    rng = np.random.default_rng(7)
    kpts = rng.uniform(0, 100, (5, 17, 2))
    areas = rng.uniform(500, 5000, 5)
    sig = COCO_META.sigmas.astype(np.float64)
    got = oks_pairwise(kpts, areas, sig)
    var = (2 * sig) ** 2
    for i in range(5):
        for j in range(5):
            e = ((kpts[i] - kpts[j]) ** 2).sum(1) / var / ((areas[i] + areas[j]) / 2 + np.spacing(1)) / 2
            assert got[i, j] == pytest.approx(np.exp(-e).mean())
    assert np.allclose(np.diag(got), 1.0)


def test_oks_nms_drops_duplicate_keeps_distinct_people() -> None:
    rng = np.random.default_rng(11)
    a, b = person(rng, 0, 0, 100, 200), person(rng, 300, 0, 100, 200)
    kpts = np.stack([a, a + 0.5, b, a + 0.5])  # 0 and 1 duplicate; 3 duplicates 0 but is on another image
    scores = np.array([0.7, 0.9, 0.8, 0.6])
    groups = np.array([1, 1, 1, 2])
    keep = oks_nms(kpts, scores, np.full(4, 20000.0), groups, COCO_META.sigmas, thr=0.9)
    assert keep.tolist() == [1, 2, 3]  # the better-scored duplicate survives
    none_dropped = oks_nms(kpts, scores, np.full(4, 20000.0), groups, COCO_META.sigmas, thr=1.0)
    assert none_dropped.tolist() == [0, 1, 2, 3]


def test_oks_nms_batched_equals_one_image_at_a_time() -> None:
    rng = np.random.default_rng(2)
    n = 300
    groups = rng.integers(0, 40, n)
    base = rng.uniform(0, 200, (8, 17, 2))
    kpts = base[rng.integers(0, 8, n)] + rng.normal(0, 1, (n, 17, 2))
    scores, areas = rng.uniform(size=n), rng.uniform(2000, 9000, n)
    keep = oks_nms(kpts, scores, areas, groups, COCO_META.sigmas)
    expect = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        expect.extend(idx[oks_nms(kpts[idx], scores[idx], areas[idx], np.zeros(len(idx)), COCO_META.sigmas)].tolist())
    assert 0 < len(keep) < n
    assert keep.tolist() == sorted(expect)


@pytest.mark.parametrize(
    ("mutate", "entry"),
    [
        (lambda r: {"not": "a list"}, "<top>"),
        (lambda r: [r[0], {k: v for k, v in r[1].items() if k != "score"}], "[1]"),
        (lambda r: [r[0], {**r[1], "keypoints": r[1]["keypoints"][:-3]}], "[1].keypoints"),
        (lambda r: [{**r[0], "image_id": 999}], "[0].image_id"),
        (lambda r: [{**r[0], "category_id": 7}], "[0].category_id"),
        (lambda r: [{**r[0], "ann_id": 999}], "[0].ann_id"),
        (lambda r: [r[0], {**r[1], "ann_id": 3}], "[1].ann_id"),  # annotation 3 is on image 2
        (lambda r: [{**r[0], "keypoints": ["x"] * 51}], "[0].keypoints"),
        (lambda r: [{**r[0], "score": float("nan")}], "[0].score"),
    ],
)
def test_bad_results_name_file_and_entry(scene, tmp_path: Path, mutate: Any, entry: str) -> None:
    d, kps = scene
    gt = coco_from_dict(d)
    bad = tmp_path / "pred.json"
    bad.write_text(json.dumps(mutate([result(1, kps[0]), result(1, kps[1])]), allow_nan=True))
    with pytest.raises(DataError) as e:
        parse_results(bad, gt)
    assert str(bad) in str(e.value) and e.value.entry == entry


def test_meta_with_other_keypoint_count_is_refused(scene) -> None:
    d, kps = scene
    with pytest.raises(DataError, match="16 keypoints"):
        evaluate_keypoints(coco_from_dict(d), [], load_meta("mpii"))


def test_empty_results_score_zero(scene, tmp_path: Path) -> None:
    d, _ = scene
    m = evaluate_keypoints(coco_from_dict(d), [], COCO_META, out_dir=tmp_path)
    assert m["AP"] == 0.0 and m["num_results"] == 0
    assert json.loads((tmp_path / RESULTS_NAME).read_text()) == []


def test_evaluate_files_on_real_minicoco(shared_data: Path, tmp_path: Path) -> None:
    """The `pose eval` path: perfect predictions for every labelled person score AP 1."""
    gt_file = shared_data / "coco_person_minicoco" / "annotations" / "person_keypoints_train2017.json"
    gt = load_coco(gt_file)
    rows = np.flatnonzero(~gt.iscrowd & (gt.num_labelled > 0))
    preds = [result(int(gt.ann_image_ids[r]), gt.keypoints[r], ann_id=int(gt.ann_ids[r])) for r in rows]
    pred_file = tmp_path / "pred.json"
    pred_file.write_text(json.dumps(preds))
    out = tmp_path / "eval" / "metrics.json"
    console = Console(record=True, width=120)
    m = evaluate_files(gt_file, pred_file, meta="coco", out=out, console=console)
    assert m["AP"] == pytest.approx(1.0) and m["PCK@0.1"] == pytest.approx(1.0)
    assert m["num_gt"] == len(rows) == 53
    assert json.loads(out.read_text())["AP"] == m["AP"]
    assert (out.parent / RESULTS_NAME).is_file()
    assert "PCK@0.05" in console.export_text()


def test_results_keypoints_follow_the_coco_number_rule(scene) -> None:
    """Results are read by the same parse path as the ground truth: numbers only, no numeric strings."""
    d, kps = scene
    gt = coco_from_dict(d)
    good = result(1, kps[0])
    assert len(parse_results([good], gt)) == 1
    bad = {**good, "keypoints": ["1.5", *good["keypoints"][1:]]}
    with pytest.raises(DataError, match="keypoints must be numbers") as e:
        parse_results([good, bad], gt)
    assert e.value.entry == "[1].keypoints"
