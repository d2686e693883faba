"""ONNX export: parity with PyTorch (heatmap and SimCC heads), the runtime wrapper, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from pose.data.meta import load_meta
from pose.errors import CheckpointError
from pose.models import TopdownPoseEstimator, build_model
from pose.modelio.onnx import MAX_KEYPOINT_DIFF_PX, MAX_OUTPUT_DIFF, OnnxPoseModel, export_onnx

FLIP = load_meta("coco").flip_indices.tolist()


def randomised(preset: str) -> TopdownPoseEstimator:
    """A tiny model with He-scaled random weights: its outputs are far from zero, so parity means something."""
    torch.manual_seed(0)
    model = build_model(preset, 17, input_size=(64, 64), flip_indices=FLIP)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1:
                p.normal_(0, (2.0 / p[0].numel()) ** 0.5)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def crops(n: int, seed: int = 1) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, 64, 64), dtype=np.uint8))


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "names"), [("simplebaseline-r18", ["heatmaps"]), ("rtmpose-t", ["simcc_x", "simcc_y"])])
def test_export_parity_and_runtime(preset: str, names: list[str], tmp_path: Path) -> None:
    model = randomised(preset)
    x = crops(5)
    with torch.no_grad():
        before = model(x, mode="tensor")
    report = export_onnx(model, tmp_path / "m.onnx", crops=x, metadata={"preset": preset})
    p = report["parity"]
    print(f"{preset}: max |diff| {p['max_abs_diff']:.3g}, keypoints {p['max_keypoint_px']:.3g} px, outputs {report['outputs']}")
    assert p["passed"] and p["crops"] == 5
    assert p["max_abs_diff"] < MAX_OUTPUT_DIFF and p["max_keypoint_px"] <= MAX_KEYPOINT_DIFF_PX
    assert list(report["outputs"]) == names and report["outputs"][names[0]][:2] == ["B", 17]
    # export must leave the model as it was (the exporter calls train() on its way out)
    assert not any(m.training for m in model.modules())
    with torch.no_grad():
        after = model(x, mode="tensor")
    for a, b in zip(before if isinstance(before, tuple) else (before,), after if isinstance(after, tuple) else (after,)):
        assert torch.equal(a, b)
        assert float(a.abs().max()) > 1.0, "outputs too small for parity to mean anything"

    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.name for o in proto.graph.output] == names and proto.graph.input[0].name == "input"
    runtime = OnnxPoseModel(tmp_path / "m.onnx")
    assert runtime.meta["preset"] == preset and runtime.flip_test and runtime.flip_indices == FLIP
    k_ref, s_ref = model.predict(x)  # flip test on both sides
    k_onnx, s_onnx = runtime.predict(x)
    assert isinstance(k_onnx, torch.Tensor) and k_onnx.shape == (5, 17, 2)
    assert float((k_ref - k_onnx).abs().max()) <= MAX_KEYPOINT_DIFF_PX
    assert float((s_ref - s_onnx).abs().max()) < 1e-3
    k_np, _ = runtime(x.numpy(), mode="predict")
    assert isinstance(k_np, np.ndarray) and np.allclose(k_np, k_onnx.numpy())
    with pytest.raises(ValueError, match="expected crops"):
        runtime.predict(np.zeros((1, 3, 32, 64), np.uint8))


def test_float_input_and_fixed_batch(tmp_path: Path) -> None:
    model = build_model("rtmpose-t", 17, input_size=(64, 64), flip_indices=FLIP).eval()
    report = export_onnx(model, tmp_path / "f.onnx", input_dtype="float32", dynamic_batch=False)
    assert report["input"] == [1, 3, 64, 64] and report["parity"]["passed"] and report["parity"]["crops"] == 3
    proto = onnx.load(str(tmp_path / "f.onnx"))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_bad_files_are_checkpoint_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    with pytest.raises(CheckpointError, match="corrupt or invalid ONNX"):
        OnnxPoseModel(bad)
    with pytest.raises(CheckpointError, match="not found"):
        OnnxPoseModel(tmp_path / "missing.onnx")
    plain = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["input"], ["out"])], "g",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, [1])]))
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(CheckpointError, match="not a posepipe ONNX model"):
        OnnxPoseModel(tmp_path / "plain.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["rtmpose-lite0", "simplebaseline-lite0-s16"])
def test_lite0_presets_export_with_parity(preset: str, tmp_path: Path) -> None:
    """TF-SAME padding and ReLU6 export exactly. ImageNet backbone, He-scaled random head: a fully
    He-random EfficientNet is no test, it is so ill-conditioned that PyTorch's own fp32 and fp64
    outputs differ by 0.05 (depthwise 3x3 / 5x5 kernels at He scale amplify rounding)."""
    torch.manual_seed(0)
    model = build_model(preset, 17, input_size=(64, 64), flip_indices=FLIP).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            if p.ndim > 1:
                p.normal_(0, (2.0 / p[0].numel()) ** 0.5)
    report = export_onnx(model, tmp_path / "m.onnx", crops=crops(3))
    assert report["parity"]["passed"] and report["parity"]["max_abs_diff"] < 1e-4
