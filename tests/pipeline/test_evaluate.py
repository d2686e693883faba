from __future__ import annotations

from pose.pipeline.evaluate import _finite, usable_boxes


def test_usable_boxes_drops_low_scores_and_degenerate_boxes() -> None:
    res = [{"image_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}, {"image_id": 1, "bbox": [0, 0, 10, 0.0], "score": 0.9},
           {"image_id": 2, "bbox": [1, 1, 5, 5], "score": 0.1}]
    assert usable_boxes(res, 0.3) == res[:1]


def test_finite_keeps_only_real_numbers_with_prefix() -> None:
    d = {"AP": 0.5, "AR": None, "EPE": float("nan"), "AUC": 1}
    assert _finite(d, ["AP", "AR", "EPE", "AUC", "missing"], "det_") == {"det_AP": 0.5, "det_AUC": 1.0}


def test_example_panels_put_ground_truth_beside_predictions(tmp_path) -> None:
    import numpy as np

    from pose.data.coco import xyxy_to_xywh
    from pose.data.layout import load_dataset
    from pose.data.synth import generate
    from pose.pipeline.evaluate import example_panels

    generate(tmp_path / "ds", images=6, seed=1, size=96, val_fraction=0.5, progress=False)
    gt, meta = load_dataset(tmp_path / "ds", split="val")
    shifted = gt.keypoints + 4.0
    results = [{"image_id": int(gt.ann_image_ids[i]), "bbox": xyxy_to_xywh(gt.bboxes[i:i + 1])[0].tolist(), "bbox_score": 0.9,
                "keypoints": np.concatenate([shifted[i], np.ones((gt.num_keypoints, 1))], 1).ravel().tolist()} for i in range(len(gt))]
    panels = example_panels(gt, results, meta, 2)
    labelled = np.unique(gt.ann_image_ids[gt.num_labelled > 0])
    assert len(panels) == min(2, len(labelled))
    for name, panel in panels.items():
        row = int(np.flatnonzero(gt.image_ids == int(name.removeprefix("compare_").removesuffix(".png")))[0])
        assert panel.shape == (gt.heights[row], 2 * gt.widths[row], 3)
        left, right = panel[:, : gt.widths[row]], panel[:, gt.widths[row]:]
        assert not np.array_equal(left, right), "predictions (shifted 4 px) must look different from the ground truth"
    assert example_panels(gt, results, meta, 0) == {}


def test_no_detector_marker_scores_gt_boxes_only(tmp_path) -> None:
    from model_files import make_pose_checkpoint

    from pose.data.synth import generate
    from pose.detection.none import write_no_detector
    from pose.params import DetectorParams, EvalParams
    from pose.pipeline.evaluate import evaluate_pipeline

    generate(tmp_path / "ds", images=4, seed=2, size=96, val_fraction=0.5, progress=False)
    pose = make_pose_checkpoint(tmp_path / "pose.pth", tmp_path / "ds")
    write_no_detector(DetectorParams(preset="none"), tmp_path / "det")
    out = evaluate_pipeline(pose, tmp_path / "det/best.pth", tmp_path / "ds", EvalParams(flip=False, curve_points=5, examples=1),
                            out_dir=tmp_path / "eval/predictions", plots_dir=tmp_path / "eval/plots", device="cpu")
    m = out["metrics"]
    assert "AP" in m and "PCK@0.1" in m and not [k for k in m if k.startswith("det_") or k == "num_detections"], sorted(m)
    assert out["histories"]["detector"] == []
    assert sorted(p.name for p in (tmp_path / "eval/predictions").iterdir()) == ["gt_boxes"]
    pngs = sorted(p.name for p in (tmp_path / "eval/plots").iterdir())
    assert "detector_loss.png" not in pngs and "pck_curve.png" in pngs and any(p.startswith("compare_") for p in pngs), pngs
