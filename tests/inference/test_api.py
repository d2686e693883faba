"""inference.api: crops equal the evaluation dataset's, results equal ``pose test``'s, clear load errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pose.data.dataset import TopdownDataset
from pose.data.image import read_image
from pose.data.layout import load_dataset
from pose.detection.predict import DetectorInfo
from pose.engine.checkpoint import save_checkpoint
from pose.errors import CheckpointError, ConfigError
from pose.inference.api import (
    InstanceResult,
    PoseModel,
    crop_boxes,
    detector_classes,
    estimate_frames,
    inference_topdown,
    load_detector,
    load_pose_model,
    merge,
    to_inputs,
)
from pose.recipes.topdown import predict


def test_inference_topdown_equals_recipe_predict_on_gt_boxes(synth: Path, pose_model: PoseModel) -> None:
    data, meta = load_dataset(synth, split="val")
    model = pose_model
    expected = predict(model.net, TopdownDataset(data, meta, input_size=model.input_size, train=False), batch_size=16)
    assert expected, "the synthetic split must hold instances"
    checked = 0
    for row, image_id in enumerate(data.image_ids):
        image = read_image(data.image_path(row))
        mine = data.ann_image_ids == image_id
        boxes = data.bboxes[mine & ~data.iscrowd & (data.num_labelled > 0)]
        got = inference_topdown(model, image, boxes)
        ref = [r for r in expected if r["image_id"] == image_id]
        assert len(got) == len(ref) == len(boxes)
        for inst, r in zip(got, ref):
            kp = np.asarray(r["keypoints"]).reshape(-1, 3)
            np.testing.assert_allclose(inst.keypoints, kp[:, :2], atol=1e-3)
            np.testing.assert_allclose(inst.keypoint_scores, kp[:, 2], atol=1e-3)
            np.testing.assert_allclose(inst.bbox[:2], r["bbox"][:2], atol=1e-3)
            checked += 1
    assert checked == len(expected)


def test_pose_test_on_detections_equals_pose_infer(synth: Path, pose_model: PoseModel, det_ckpt: Path) -> None:
    """``pose test --det-results`` / the evaluate stage (detector results file -> boxes -> crops)
    and ``pose infer`` (detect -> inference_topdown) give the same boxes and keypoints."""
    from pose.detection.predict import detect
    from pose.detection.train import predict_dataset
    from pose.pipeline.evaluate import usable_boxes

    data, meta = load_dataset(synth, split="val")
    det, info = load_detector(det_ckpt)
    det.score_thresh = 0.0  # untrained: let its own post-processing keep boxes to compare
    thr = 0.005
    boxes = usable_boxes(predict_dataset(det, data, info.category_ids), thr)
    assert boxes, "the untrained detector must keep some boxes"
    expected = predict(pose_model.net, TopdownDataset(data, meta, input_size=pose_model.input_size, train=False, boxes=boxes), batch_size=16)
    images = [read_image(data.image_path(row)) for row in range(len(data.image_ids))]
    # one batch as predict_dataset's: torchvision pads a batch to its largest image, which moves
    # border boxes of smaller images by a fraction of a pixel
    found = detect(det, images, score_thr=thr, nms_thr=None, batch_size=16)
    checked = 0
    for image_id, image, (b, scores, _) in zip(data.image_ids, images, found):
        keep = ((b[:, 2:] - b[:, :2]) >= 0.01).all(1)  # the results file holds 0.01 px: a thinner box rounds to nothing
        ref = [r for r in expected if r["image_id"] == image_id]
        assert keep.sum() == len(ref), (image_id, int(keep.sum()), len(ref))
        ref_xywh = np.array([r["bbox"] for r in ref], np.float32)
        ref_xyxy = np.concatenate([ref_xywh[:, :2], ref_xywh[:, :2] + ref_xywh[:, 2:]], axis=1)
        for box in b[keep]:
            assert np.abs(ref_xyxy - box).max(1).min() < 0.01, "detect() finds the box the results file holds"
        # the same boxes through pose infer's crop + batch path give the keypoints the evaluation scored
        got = inference_topdown(pose_model, image, ref_xyxy, box_scores=np.array([r["bbox_score"] for r in ref]))
        for inst, r in zip(got, ref):
            np.testing.assert_allclose(inst.keypoints, np.asarray(r["keypoints"]).reshape(-1, 3)[:, :2], atol=2e-3)
            checked += 1
    assert checked == len(expected) > 0


def test_crops_are_the_evaluation_datasets(synth: Path) -> None:
    data, meta = load_dataset(synth, split="val")
    ds = TopdownDataset(data, meta, input_size=(64, 96), train=False)
    row = int(ds.image_rows[0])
    image = read_image(data.image_path(row))
    crops, center, scale, matrices = crop_boxes(image, ds.bboxes[:1], (64, 96))
    sample = ds[0]
    assert torch.equal(to_inputs(crops)[0], sample["image"])
    np.testing.assert_allclose(center[0], sample["center"].numpy())
    np.testing.assert_allclose(scale[0], sample["scale"].numpy())
    np.testing.assert_allclose(matrices[0], sample["matrix"].numpy())


def test_full_frame_is_the_whole_image_as_one_box(synth: Path, pose_model: PoseModel) -> None:
    model = pose_model
    image = read_image(next((synth / "images").iterdir()))
    h, w = image.shape[:2]
    whole = inference_topdown(model, image)
    boxed = inference_topdown(model, image, np.array([[0, 0, w, h]], np.float32))
    assert len(whole) == 1 and whole[0].bbox_score == 1.0
    np.testing.assert_array_equal(whole[0].bbox, [0, 0, w, h])
    np.testing.assert_array_equal(whole[0].keypoints, boxed[0].keypoints)


def test_one_batch_for_all_boxes_and_frames(synth: Path, pose_model: PoseModel, monkeypatch: pytest.MonkeyPatch) -> None:
    model = pose_model
    calls: list[int] = []
    original = model.net.predict
    monkeypatch.setattr(model.net, "predict", lambda x: calls.append(len(x)) or original(x))
    images = [read_image(p) for p in sorted((synth / "images").iterdir())[:2]]
    boxes = [np.array([[0, 0, 40, 60], [20, 10, 90, 100], [5, 5, 30, 30]], np.float32), None]
    frames = estimate_frames(model, images, boxes, box_scores=[np.array([0.9, 0.8, 0.7]), None], batch_size=64)
    assert calls == [4]
    assert [len(f) for f in frames] == [3, 1]
    np.testing.assert_allclose(frames[0].box_scores, [0.9, 0.8, 0.7])
    single = inference_topdown(model, images[0], boxes[0])
    np.testing.assert_allclose(np.stack([i.keypoints for i in single]), frames[0].keypoints, atol=1e-3)
    estimate_frames(model, images, boxes, batch_size=3)
    assert calls[1:] == [3, 3, 1]


def test_merge_and_to_coco(synth: Path, pose_model: PoseModel) -> None:
    model = pose_model
    image = read_image(next((synth / "images").iterdir()))
    boxes = np.array([[10, 20, 50, 80], [30, 5, 70, 60]], np.float32)
    inst = inference_topdown(model, image, boxes, box_scores=np.array([0.9, 0.5]))
    frame = merge(inst, (image.shape[1], image.shape[0]))
    k = model.num_keypoints
    assert frame.keypoints.shape == (2, k, 2) and frame.keypoint_scores.shape == (2, k) and frame.heatmaps is None
    entries = frame.to_coco(7, category_id=3)
    assert [sorted(e) for e in entries] == [sorted(["image_id", "category_id", "keypoints", "score", "bbox", "bbox_score"])] * 2
    e = entries[1]
    assert e["image_id"] == 7 and e["category_id"] == 3 and len(e["keypoints"]) == 3 * k
    assert e["bbox"] == [30.0, 5.0, 40.0, 55.0] and e["bbox_score"] == 0.5
    np.testing.assert_allclose(e["keypoints"][0::3], frame.keypoints[1, :, 0], atol=1e-3)
    assert e["score"] == pytest.approx(float(frame.keypoint_scores[1].mean()))
    empty = merge([], (5, 4), num_keypoints=k)
    assert len(empty) == 0 and empty.keypoints.shape == (0, k, 2) and empty.to_coco(1) == []
    with pytest.raises(ValueError, match="num_keypoints"):
        merge([], (5, 4))
    assert isinstance(frame.instances()[0], InstanceResult)


def test_heatmap_argmax_maps_back_to_the_keypoint(synth: Path, heatmap_ckpt: Path) -> None:
    model = load_pose_model(heatmap_ckpt)
    model.net.flip_test = False
    image = read_image(next((synth / "images").iterdir()))
    boxes = np.array([[10, 20, 60, 90]], np.float32)
    frame = estimate_frames(model, [image], [boxes], heatmaps=True)[0]
    maps, m = frame.heatmaps[0], frame.heatmap_matrices[0]
    k, h, w = maps.shape
    v, u = np.unravel_index(maps.reshape(k, -1).argmax(1), (h, w))
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    back = np.stack([u, v, np.ones(k)], 1) @ inv.T
    px = abs(1 / m[0, 0])  # image pixels per heatmap pixel
    assert np.all(np.abs(back - frame.keypoints[0]) <= 0.25 * px + 1e-3)


def test_simcc_heatmaps_have_shape_and_frame(synth: Path, pose_model: PoseModel) -> None:
    model = pose_model
    image = read_image(next((synth / "images").iterdir()))
    frame = estimate_frames(model, [image], [np.array([[0, 0, 64, 64]], np.float32)], heatmaps=True)[0]
    w, h = model.input_size
    assert frame.heatmaps.shape == (1, model.num_keypoints, h // 4, w // 4)
    assert np.all(frame.heatmaps >= 0) and np.all(frame.heatmaps <= 1)
    center = frame.heatmap_matrices[0] @ np.array([32, 32, 1.0])
    np.testing.assert_allclose(center, [(w // 4 - 1) / 2] * 2, atol=0.5)


def test_load_errors(synth: Path, pose_ckpt: Path, det_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_pose_model(tmp_path / "missing.pth")
    (tmp_path / "cut.pth").write_bytes(pose_ckpt.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_pose_model(tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match="not a pose checkpoint"):
        load_pose_model(det_ckpt)
    with pytest.raises(CheckpointError, match="meta 'ap10k'"):
        load_pose_model(pose_ckpt, meta="ap10k")
    assert load_pose_model(pose_ckpt, meta="coco", input_size=(64, 64)).input_size == (64, 64)
    with pytest.raises(ConfigError, match="built for input size 64x64"):
        load_pose_model(pose_ckpt, input_size=(192, 256))
    with pytest.raises(CheckpointError, match="not found"):
        load_detector(tmp_path / "missing.pth")
    save_checkpoint(tmp_path / "pose_as_det.pth", {"model": {"w": torch.zeros(1)}, "config": {"kind": "pose"}})
    with pytest.raises(CheckpointError, match="not a detector checkpoint"):
        load_detector(tmp_path / "pose_as_det.pth")
    with pytest.raises(ConfigError, match="CUDA is not available") if not torch.cuda.is_available() else pytest.raises(CheckpointError):
        load_pose_model(tmp_path / "missing.pth" if torch.cuda.is_available() else pose_ckpt, device="cuda")


def test_bad_inputs(pose_model: PoseModel) -> None:
    model = pose_model
    image = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(ConfigError, match=r"boxes\[1\]: box must be finite"):
        inference_topdown(model, image, np.array([[0, 0, 10, 10], [5, 5, 5, 9]], np.float32))
    with pytest.raises(ConfigError, match=r"must be \(N, 4\)"):
        inference_topdown(model, image, np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="BGR uint8"):
        inference_topdown(model, image.astype(np.float32))
    with pytest.raises(ConfigError, match="2 scores for 1 boxes"):
        inference_topdown(model, image, np.array([[0, 0, 10, 10]]), box_scores=np.array([0.1, 0.2]))


def test_detector_classes_follow_the_meta_category(synth: Path) -> None:
    _, meta = load_dataset(synth, split="val")
    info = lambda names: DetectorInfo("fcos-tiny", 96, names, list(range(1, len(names) + 1)), {})  # noqa: E731
    assert detector_classes(info(["dog", meta.category]), meta) == [2]
    assert detector_classes(info(["anything"]), meta) == [1]
    assert detector_classes(info(["dog", "cat"]), meta) is None


def test_published_and_onnx_models_give_the_checkpoints_results(synth: Path, pose_ckpt: Path, pose_model: PoseModel,
                                                               tmp_path: Path) -> None:
    from pose.publish.command import publish

    pub = publish(pose_ckpt, tmp_path, onnx=True)
    image = read_image(next((synth / "images").iterdir()))
    boxes = np.array([[10, 20, 60, 90], [0, 0, 50, 40]], np.float32)
    ref = estimate_frames(pose_model, [image], [boxes], heatmaps=True)[0]
    for path, kind, tol in ((pub.path, "published", 1e-4), (pub.onnx, "onnx", 0.5)):
        model = load_pose_model(path, meta="coco")
        assert model.kind == kind and model.meta.keypoint_names == pose_model.meta.keypoint_names
        got = estimate_frames(model, [image], [boxes], heatmaps=True)[0]
        assert np.abs(got.keypoints - ref.keypoints).max() <= tol
        assert got.heatmaps.shape == ref.heatmaps.shape
    with pytest.raises(CheckpointError, match="meta 'ap10k'"):
        load_pose_model(pub.onnx, meta="ap10k")
