"""COCO bbox mAP: perfect boxes score 1, numbers equal pycocotools run directly, results file dumped."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pose.data.coco import CocoData, build_coco
from pose.detection.evaluate import RESULTS_NAME, evaluate_boxes, results_json

CATS = [{"id": 3, "name": "cat", "keypoints": ["a", "b"], "skeleton": []},
        {"id": 7, "name": "dog", "keypoints": ["a", "b"], "skeleton": []}]


def make_gt(crowd: bool = False) -> CocoData:
    rng = np.random.default_rng(0)
    n = 9
    xy = rng.uniform(0, 120, (n, 2))
    wh = rng.uniform(20, 90, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    iscrowd = np.zeros(n, bool)
    iscrowd[-1] = crowd
    return build_coco(file_names=["a.jpg", "b.jpg", "c.jpg"], widths=[240] * 3, heights=[240] * 3,
                      ann_image_rows=[0, 0, 0, 1, 1, 1, 2, 2, 2], keypoints=np.zeros((n, 2, 2)), visibility=np.zeros((n, 2)),
                      categories=CATS, bboxes=boxes, category_ids=[3, 7, 3, 3, 7, 7, 3, 3, 7], iscrowd=iscrowd)


def perfect(gt: CocoData) -> list[dict]:
    ids = gt.image_ids.tolist()
    dets = []
    for i in ids:
        sel = (gt.ann_image_ids == i) & ~gt.iscrowd
        labels = np.where(gt.category_ids[sel] == 3, 1, 2)
        dets.append((gt.bboxes[sel], np.linspace(0.9, 0.5, sel.sum()), labels))
    return results_json(ids, dets, [3, 7])


def test_perfect_boxes_give_map_one(tmp_path: Path) -> None:
    gt = make_gt()
    m = evaluate_boxes(gt, perfect(gt), out_dir=tmp_path)
    for key in ("bbox_mAP", "bbox_mAP50", "bbox_mAP75", "bbox_AR"):
        assert m[key] == pytest.approx(1.0), key
    assert m["num_gt"] == 9 and m["num_results"] == 9
    saved = json.loads((tmp_path / RESULTS_NAME).read_text())
    assert {r["category_id"] for r in saved} == {3, 7}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_matches_pycocotools_directly(tmp_path: Path) -> None:
    gt = make_gt(crowd=True)
    rng = np.random.default_rng(1)
    results = perfect(gt)
    for r in results:  # jitter the boxes and add a false positive per image
        r["bbox"] = (np.array(r["bbox"]) + rng.normal(0, 6, 4)).round(2).tolist()
    results += [{"image_id": int(i), "category_id": 3, "bbox": [5.0, 5.0, 30.0, 30.0], "score": 0.7} for i in gt.image_ids]
    ours = evaluate_boxes(gt, results, out_dir=tmp_path)

    gt_file = tmp_path / "gt.json"
    gt_file.write_text(json.dumps(gt.to_json()))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        ev = COCOeval(coco, coco.loadRes(str(tmp_path / RESULTS_NAME)), iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert 0.0 < ours["bbox_mAP"] < 1.0
    assert ours["bbox_mAP"] == pytest.approx(ev.stats[0])
    assert ours["bbox_mAP50"] == pytest.approx(ev.stats[1])
    assert ours["bbox_mAP75"] == pytest.approx(ev.stats[2])
    assert ours["bbox_AR"] == pytest.approx(ev.stats[8])


def test_no_detections_score_zero_and_no_gt_is_none() -> None:
    gt = make_gt()
    assert evaluate_boxes(gt, [])["bbox_mAP"] == 0.0
    empty = gt.subset(np.zeros(0, np.int64))
    assert evaluate_boxes(empty, [])["bbox_mAP50"] is None


def test_results_json_maps_labels_to_category_ids() -> None:
    res = results_json([5], [(np.array([[1, 2, 11, 22]], np.float32), np.array([0.5]), np.array([2]))], [3, 7])
    assert res == [{"image_id": 5, "category_id": 7, "bbox": [1.0, 2.0, 10.0, 20.0], "score": 0.5}]


def test_forward_drops_background_and_degenerate_boxes() -> None:
    import torch

    from pose.detection.predict import forward

    class Fake(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, images):
            boxes = torch.tensor([[1.0, 2.0, 11.0, 12.0], [5.0, 5.0, 9.0, 5.0], [0.0, 0.0, 4.0, 4.0]])
            return [{"boxes": boxes, "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([1, 1, 0])}]

    (boxes, scores, labels), = forward(Fake(), [torch.zeros(3, 8, 8)], [2.0])
    assert boxes.tolist() == [[0.5, 1.0, 5.5, 6.0]]
    assert scores.tolist() == [pytest.approx(0.9)] and labels.tolist() == [1]
