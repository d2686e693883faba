from __future__ import annotations

from pose.pipeline.evaluate import _finite, usable_boxes


def test_usable_boxes_drops_low_scores_and_degenerate_boxes() -> None:
    res = [{"image_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}, {"image_id": 1, "bbox": [0, 0, 10, 0.0], "score": 0.9},
           {"image_id": 2, "bbox": [1, 1, 5, 5], "score": 0.1}]
    assert usable_boxes(res, 0.3) == res[:1]


def test_finite_keeps_only_real_numbers_with_prefix() -> None:
    d = {"AP": 0.5, "AR": None, "EPE": float("nan"), "AUC": 1}
    assert _finite(d, ["AP", "AR", "EPE", "AUC", "missing"], "det_") == {"det_AP": 0.5, "det_AUC": 1.0}
