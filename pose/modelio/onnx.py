"""ONNX export of a pose model's ``mode="tensor"`` graph, a parity check (on val crops when the
data is at hand), and a runtime wrapper.

The exported graph takes raw 0-255 RGB crops ``input`` (B, 3, H, W), uint8 by default, with
normalisation inside, and returns the head's raw outputs named after its targets:
``heatmaps``, ``simcc_x``/``simcc_y`` or ``coords``. Decoding stays in Python (the codec),
so the file carries what decoding needs as JSON in its metadata (key ``posepipe``): codec
config, input size, flip indices, plus whatever the caller adds (dataset meta, preset).

torch 2.14 exports with the TorchScript-based exporter (``dynamo=False``): the dynamo
exporter needs ``onnxscript``, which is not a dependency.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pose.codecs import Codec, build_codec, codec_config
from pose.errors import CheckpointError, PoseError
from pose.fileio import atomic_path, sha256_file
from pose.models import TopdownPoseEstimator
from pose.params import PoseParams

META_KEY = "posepipe"
INPUT_NAME = "input"
#: Parity tolerances: raw outputs (absolute) and decoded keypoints (input pixels).
MAX_OUTPUT_DIFF = 1e-3
MAX_KEYPOINT_DIFF_PX = 0.5


class ExportError(PoseError):
    """The exported graph does not reproduce the PyTorch model."""


class _TensorMode(torch.nn.Module):
    def __init__(self, model: TopdownPoseEstimator) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        return self.model(x, mode="tensor")


def output_names(model: TopdownPoseEstimator) -> tuple[str, ...]:
    """The ONNX output names: the head's target keys (``heatmaps`` | ``simcc_x, simcc_y`` | ``coords``)."""
    return tuple(model.head.target_keys)


@torch.no_grad()
def output_shapes(model: TopdownPoseEstimator) -> dict[str, list[int | str]]:
    """Output name -> shape for a batch (``"B"``) of crops, from one dummy forward pass."""
    w, h = model.input_size
    device = next(model.parameters()).device
    was = _training_flags(model)
    model.eval()
    try:
        out = model(torch.zeros(1, 3, h, w, device=device), mode="tensor")
    finally:
        _restore_flags(model, was)
    outs = out if isinstance(out, tuple) else (out,)
    return {n: ["B", *o.shape[1:]] for n, o in zip(output_names(model), outs)}


def runtime_metadata(model: TopdownPoseEstimator, input_dtype: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What ``OnnxPoseModel`` needs to decode the graph's outputs, plus ``extra`` (JSON-able)."""
    shapes = output_shapes(model)
    return {
        **dict(extra or {}),
        "codec": json.loads(json.dumps(codec_config(model.codec))),
        "input_size": list(model.input_size),
        "input_dtype": input_dtype,
        "num_keypoints": int(next(iter(shapes.values()))[1]),
        "flip_indices": model.flip_indices,
        "flip_test": bool(model.flip_test),
        "outputs": shapes,
    }


def export_onnx(
    model: TopdownPoseEstimator,
    path: str | Path,
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
    input_dtype: Literal["uint8", "float32"] = "uint8",
    metadata: Mapping[str, Any] | None = None,
    check: bool = True,
    crops: np.ndarray | torch.Tensor | None = None,
) -> dict[str, Any]:
    """Export ``model`` (tensor mode) to ``path`` atomically; with ``check``, refuse a graph that
    fails ``parity`` on ``crops`` (random crops when None). Returns a report."""
    import onnx

    path = Path(path)
    model = model.cpu()
    w, h = model.input_size
    dtype = {"uint8": torch.uint8, "float32": torch.float32}[input_dtype]
    example = torch.randint(0, 256, (2 if dynamic_batch else 1, 3, h, w), generator=torch.Generator().manual_seed(0)).to(dtype)
    names = output_names(model)
    axes = {n: {0: "batch"} for n in (INPUT_NAME, *names)} if dynamic_batch else None
    flags = _training_flags(model)
    wrapper = _TensorMode(model).eval()
    try:
        with atomic_path(path) as tmp:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(wrapper, (example,), str(tmp), dynamo=False, opset_version=opset, input_names=[INPUT_NAME],
                                  output_names=list(names), dynamic_axes=axes, do_constant_folding=True)
            proto = onnx.load(str(tmp))
            meta = runtime_metadata(model, input_dtype, metadata)
            onnx.helper.set_model_props(proto, {META_KEY: json.dumps(meta)})
            onnx.checker.check_model(proto)
            onnx.save(proto, str(tmp))
            report: dict[str, Any] = {"path": str(path), "opset": opset, "input": [("B" if dynamic_batch else 1), 3, h, w],
                                      "input_dtype": input_dtype, "outputs": meta["outputs"]}
            if check:
                report["parity"] = parity(model, tmp, crops)
                if not report["parity"]["passed"]:
                    p = report["parity"]
                    raise ExportError(f"ONNX output differs from PyTorch (max |diff| {p['max_abs_diff']:.3g}, keypoints "
                                      f"{p['max_keypoint_px']:.3g} px); file not written", file=path)
    finally:
        _restore_flags(model, flags)
    report["sha256"] = sha256_file(path)
    return report


@torch.no_grad()
def parity(model: TopdownPoseEstimator, onnx_path: str | Path, crops: np.ndarray | torch.Tensor | None = None, *,
           n: int = 3, seed: int = 0) -> dict[str, Any]:
    """Compare onnxruntime with PyTorch on ``crops`` (or ``n`` random ones): raw outputs and
    keypoints decoded by the model's codec (no flip test)."""
    w, h = model.input_size
    from_random = crops is None
    if crops is None:
        crops = np.random.default_rng(seed).integers(0, 256, (n, 3, h, w), dtype=np.uint8)
    x = torch.as_tensor(np.asarray(crops) if not isinstance(crops, torch.Tensor) else crops)
    runtime = OnnxPoseModel(onnx_path, flip_test=False)
    was = _training_flags(model)
    model.eval()
    try:
        ref = model(x, mode="tensor")
    finally:
        _restore_flags(model, was)
    ref = tuple(o.float().numpy() for o in (ref if isinstance(ref, tuple) else (ref,)))
    got = runtime.run(x.numpy())
    diffs = {name: float(np.abs(a - b).max()) for name, a, b in zip(runtime.output_names, ref, got)}
    k_ref, _ = model.codec.decode(ref if len(ref) > 1 else ref[0])
    k_got, _ = runtime.codec.decode(got if len(got) > 1 else got[0])
    kp = float(np.abs(np.asarray(k_ref) - np.asarray(k_got)).max())
    worst = max(diffs.values())
    return {"crops": int(x.shape[0]), "crops_from": "random" if from_random else "given", "max_abs_diff": worst,
            "per_output": diffs, "max_keypoint_px": kp, "passed": worst < MAX_OUTPUT_DIFF and kp <= MAX_KEYPOINT_DIFF_PX,
            "tolerances": {"output": MAX_OUTPUT_DIFF, "keypoint_px": MAX_KEYPOINT_DIFF_PX}}


class OnnxPoseModel:
    """An exported pose model run by onnxruntime, with the estimator's ``predict`` interface:
    ``predict(crops) -> (keypoints (B, K, 2) in input pixels, scores (B, K))``, flip-tested when
    enabled (torch in -> torch out, numpy in -> numpy out)."""

    def __init__(self, path: str | Path, *, flip_test: bool | None = None, threads: int | None = None,
                 providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        check_file(self.path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=list(providers))
        except Exception as e:  # onnxruntime raises its own exception types for graphs it cannot run
            raise CheckpointError(f"onnxruntime cannot load the model ({' '.join(str(e).split())[:120]})", file=self.path) from None
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise CheckpointError("not a posepipe ONNX model (no 'posepipe' metadata)", file=self.path,
                                  hint="export it with `pose export`")
        try:
            self.meta: dict[str, Any] = json.loads(props[META_KEY])
            cfg = dict(self.meta["codec"])
            self.codec: Codec = build_codec(cfg.pop("name"), **cfg)
        except (ValueError, KeyError, TypeError, PoseError) as e:
            raise CheckpointError(f"unreadable posepipe metadata ({e})", file=self.path) from None
        self.input_size: tuple[int, int] = tuple(self.meta["input_size"])  # type: ignore[assignment]
        self.flip_indices: list[int] | None = self.meta.get("flip_indices")
        self.flip_test = bool(self.meta.get("flip_test", True)) if flip_test is None else flip_test
        self.input_dtype = np.dtype(self.meta.get("input_dtype", "uint8"))
        self.output_names = [o.name for o in self.session.get_outputs()]
        dim = self.session.get_inputs()[0].shape[0]
        self.fixed_batch: int | None = dim if isinstance(dim, int) else None

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        """Raw outputs for (B, 3, H, W) 0-255 crops, in ``output_names`` order."""
        w, h = self.input_size
        if crops.ndim != 4 or crops.shape[1:] != (3, h, w):
            raise ValueError(f"expected crops (B, 3, {h}, {w}), got {tuple(crops.shape)}")
        if self.input_dtype == np.uint8 and crops.dtype != np.uint8:
            crops = np.clip(np.rint(crops), 0, 255)
        crops = np.ascontiguousarray(crops, dtype=self.input_dtype)
        b = self.fixed_batch
        if b is None or len(crops) == b:
            return self.session.run(None, {INPUT_NAME: crops})
        n = len(crops)
        padded = np.concatenate((crops, np.zeros((-n % b, *crops.shape[1:]), crops.dtype)))
        parts = [self.session.run(None, {INPUT_NAME: padded[i:i + b]}) for i in range(0, len(padded), b)]
        return [np.concatenate(outs)[:n] for outs in zip(*parts)]

    def predict_outputs(self, crops: np.ndarray) -> Any:
        """Raw outputs ``predict`` decodes (the flip-test mean when enabled), numpy."""
        if not (self.flip_test and self.flip_indices is not None):
            outs = self.run(crops)
            return outs[0] if len(outs) == 1 else tuple(outs)
        b = crops.shape[0]
        both = self.run(np.concatenate((crops, crops[..., ::-1]), 0))
        plain, mirrored = [o[:b] for o in both], [o[b:] for o in both]
        back = self.codec.flip_outputs(mirrored[0] if len(both) == 1 else tuple(mirrored), self.flip_indices)
        mean = tuple(0.5 * (p + m) for p, m in zip(plain, back if isinstance(back, tuple) else (back,)))
        return mean[0] if len(mean) == 1 else mean

    def predict(self, inputs: np.ndarray | torch.Tensor) -> tuple[Any, Any]:
        as_torch = isinstance(inputs, torch.Tensor)
        crops = inputs.detach().cpu().numpy() if as_torch else np.asarray(inputs)
        kpts, scores = self.codec.decode(self.predict_outputs(crops))
        kpts, scores = np.asarray(kpts, np.float32), np.asarray(scores, np.float32)
        return (torch.from_numpy(kpts), torch.from_numpy(scores)) if as_torch else (kpts, scores)

    def __call__(self, inputs: np.ndarray | torch.Tensor, mode: str = "predict") -> Any:
        if mode == "predict":
            return self.predict(inputs)
        if mode == "tensor":
            crops = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
            outs = self.run(crops)
            return outs[0] if len(outs) == 1 else tuple(outs)
        raise ValueError(f"an ONNX model supports mode 'predict' or 'tensor', not {mode!r}")

    def eval(self) -> OnnxPoseModel:
        return self

    def to(self, *_: Any, **__: Any) -> OnnxPoseModel:
        return self


def check_file(path: str | Path) -> None:
    """Run ``onnx.checker`` on a file; a missing or corrupt file is a ``CheckpointError``."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise CheckpointError("ONNX model not found", file=path)
    try:
        onnx.checker.check_model(str(path))
    except Exception as e:  # onnx raises DecodeError, ValidationError, OSError ... for a bad file
        raise CheckpointError(f"corrupt or invalid ONNX model ({' '.join(str(e).split())[:120]})", file=path) from None


def _training_flags(model: torch.nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def _restore_flags(model: torch.nn.Module, flags: list[bool]) -> None:
    """torch.onnx.export calls ``train(old)`` on the wrapper afterwards, which would put an eval
    model in train mode (BatchNorm statistics then drift); put every module back as it was."""
    for m, f in zip(model.modules(), flags):
        m.training = f



def val_crops(info: Mapping[str, Any], *, dataset: str | None = None, split: str | None = None, n: int = 8) -> np.ndarray | None:
    """Up to ``n`` evaluation crops (B, 3, H, W) uint8 of the model's val split (or
    ``dataset``/``split``), spread over the split: what ONNX parity is checked on. ``info`` holds
    the training ``params`` and ``input_size`` (a checkpoint's config or a published meta). None
    when the data is not there (a model published away from its dataset)."""
    from pose.data.dataset import TopdownDataset
    from pose.data.layout import load_dataset

    params = PoseParams.model_validate(info["params"])
    try:
        gt, meta = load_dataset(dataset or params.dataset, split=split or params.val_split, meta=None if dataset else params.meta)
    except PoseError:
        return None
    ds = TopdownDataset(gt, meta, input_size=tuple(info["input_size"]), train=False)
    if len(ds) == 0:
        return None
    idx = np.unique(np.linspace(0, len(ds) - 1, min(n, len(ds))).round().astype(int))
    return np.stack([np.asarray(ds[int(i)]["image"]) for i in idx])
