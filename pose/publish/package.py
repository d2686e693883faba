"""Published models: a training checkpoint stripped to its weights plus the meta to use them.

Like MMPose's ``publish_model.py``: optimizer, scheduler, scaler, RNG and history are dropped,
the EMA weights (when present) become the model weights, and the file is named
``<name>-<sha256[:8]>.pth`` after its own bytes. Unlike it, the file also carries everything
inference needs (dataset meta, codec config, preset, input size, flip indices), so no config
file travels with it, and a model card ``<name>-<sha8>.md`` is written beside it.

The bytes are deterministic: publishing the same checkpoint with the same metrics and lineage
gives the same file name.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose.codecs import codec_config
from pose.data.meta import DatasetMeta
from pose.engine.checkpoint import load_checkpoint, model_state
from pose.errors import CheckpointError, ConfigError, PoseError
from pose.fileio import write_bytes, write_text
from pose.models import TopdownPoseEstimator
from pose.params import PoseParams
from pose.publish.onnx import OnnxPoseModel, export_onnx, output_shapes, sha256_file
from pose.recipes.topdown import build_pose_model, model_from_checkpoint
from pose.tracking import flatten

FORMAT = "posepipe.published"
FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HASHED = re.compile(r"-([0-9a-f]{8})\.pth$")
#: Checkpoint history keys that are evaluation metrics (the rest is loss, lr, timing).
EVAL_KEYS = ("AP", "AP50", "AP75", "AR", "PCK@0.05", "PCK@0.1", "AUC", "EPE")


@dataclass(frozen=True)
class PublishedModel:
    """Where a publish went: the ``.pth``, its model card, its hash and the stored meta."""

    path: Path
    card: Path
    sha256: str
    name: str
    meta: dict[str, Any] = field(repr=False)
    onnx: Path | None = None
    onnx_report: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stem(self) -> str:
        return self.path.stem


def _plain(obj: Any) -> Any:
    """JSON-able builtins only (numpy scalars become floats), so ``weights_only`` can load it."""
    return json.loads(json.dumps(obj, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def best_metrics(state: dict[str, Any]) -> dict[str, float]:
    """Evaluation metrics of the best epoch in a checkpoint's history (by AP), else the last one."""
    evals = [h for h in state.get("history") or [] if isinstance(h, dict) and any(k in h for k in EVAL_KEYS)]
    if not evals:
        return {}
    best = max(evals, key=lambda h: h.get("AP", float("-inf")))
    return {k: float(best[k]) for k in EVAL_KEYS if k in best} | {"epoch": int(best.get("epoch", 0))}


def val_crops(cfg: dict[str, Any], *, dataset: str | None = None, split: str | None = None, n: int = 8) -> np.ndarray | None:
    """Up to ``n`` evaluation crops (B, 3, H, W) uint8 of the checkpoint's val split (or
    ``dataset``/``split``), spread over the split: what ONNX parity is checked on. None when
    the data is not there (a checkpoint published away from its dataset)."""
    from pose.data.dataset import TopdownDataset
    from pose.data.layout import load_dataset

    params = PoseParams.model_validate(cfg["params"])
    try:
        gt, meta = load_dataset(dataset or params.dataset, split=split or params.val_split, meta=None if dataset else params.meta)
    except PoseError:
        return None
    ds = TopdownDataset(gt, meta, input_size=tuple(cfg["input_size"]), train=False)
    if len(ds) == 0:
        return None
    idx = np.unique(np.linspace(0, len(ds) - 1, min(n, len(ds))).round().astype(int))
    return np.stack([np.asarray(ds[int(i)]["image"]) for i in idx])


def publish(checkpoint: str | Path, out_dir: str | Path, *, name: str | None = None, metrics: dict[str, Any] | None = None,
            lineage: dict[str, Any] | None = None, onnx: bool = False, dataset: str | None = None,
            split: str | None = None) -> PublishedModel:
    """Strip ``checkpoint`` into ``out_dir/<name>-<sha8>.pth`` plus a model card (and, with
    ``onnx``, a ``<name>-<sha8>.onnx`` checked against PyTorch on val crops, random crops when
    the val split is not at hand). ``metrics`` default to the best epoch's."""
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint)
    model, meta, cfg = model_from_checkpoint(checkpoint)
    name = name or f"{meta.name}-{cfg['preset']}"
    if not _NAME.match(name):
        raise ConfigError(f"model name {name!r} may only hold letters, digits, '.', '_' and '-'", entry="--name")
    info = _plain({
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": "pose", "name": name,
        "preset": cfg["preset"], "input_size": list(model.input_size), "num_keypoints": meta.num_keypoints,
        "codec": codec_config(model.codec), "flip_indices": model.flip_indices, "flip_test": model.flip_test,
        "dataset_meta": meta.to_dict(), "params": cfg["params"],
        "metrics": metrics if metrics is not None else best_metrics(state),
        "lineage": lineage or {}, "outputs": output_shapes(model),
        "source": {"checkpoint": checkpoint.name, "epoch": state.get("epoch"), "weights": "ema" if state.get("ema") else "model"},
    })
    buf = io.BytesIO()
    torch.save({"state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, "meta": info}, buf)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    out_dir = Path(out_dir)
    stem = f"{name}-{sha[:8]}"
    onnx_path, report = None, None
    if onnx:
        onnx_path = out_dir / f"{stem}.onnx"
        report = export_onnx(model, onnx_path, metadata={"dataset_meta": info["dataset_meta"], "preset": info["preset"],
                                                         "name": name, "source_sha256": sha},
                             crops=val_crops(cfg, dataset=dataset, split=split))
    card = out_dir / f"{stem}.md"
    write_text(card, model_card(info, sha, onnx_report=report))
    path = out_dir / f"{stem}.pth"
    write_bytes(path, data)
    return PublishedModel(path=path, card=card, sha256=sha, name=name, meta=info, onnx=onnx_path, onnx_report=report)


def load_published(path: str | Path, *, device: str | torch.device = "cpu",
                   verify: bool = True) -> tuple[TopdownPoseEstimator, DatasetMeta, dict[str, Any]]:
    """Rebuild a published model (``weights_only`` load). With ``verify``, a file whose bytes no
    longer match the hash in its name is refused. ``info`` is the stored meta plus ``sha256``."""
    path = Path(path)
    state = load_checkpoint(path)
    info = state.get("meta")
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError("not a published posepipe model (no published meta inside)", file=path,
                              hint="a training checkpoint? use `pose publish` first, or load_any_pose")
    sha = sha256_file(path)
    m = _HASHED.search(path.name)
    if verify and m and not sha.startswith(m.group(1)):
        raise CheckpointError(f"file changed since publishing (sha256 {sha[:8]}, name says {m.group(1)})", file=path)
    try:
        meta = DatasetMeta.from_dict(info["dataset_meta"], source=f"{path}:meta.dataset_meta")
        params = PoseParams.model_validate(info["params"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"published meta is incomplete ({e})", file=path) from None
    model = build_pose_model(params, meta)
    try:
        model.load_state_dict(model_state(state, path))
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit preset '{info.get('preset')}' ({' '.join(str(e).split())[:160]})", file=path) from None
    model.flip_test = bool(info.get("flip_test", model.flip_test))
    return model.to(device).eval(), meta, {**info, "sha256": sha, "path": str(path)}


def load_any_pose(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[Any, DatasetMeta | None, dict[str, Any]]:
    """A pose model from a training checkpoint, a published ``.pth`` or an exported ``.onnx``
    (an ``OnnxPoseModel``), with its dataset meta and info: inference needs no config file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        runtime = OnnxPoseModel(path)
        dm = runtime.meta.get("dataset_meta")
        meta = DatasetMeta.from_dict(dm, source=f"{path}:metadata.dataset_meta") if dm else None
        return runtime, meta, {**runtime.meta, "path": str(path), "kind": "onnx"}
    state = load_checkpoint(path)
    if isinstance(state.get("meta"), dict) and state["meta"].get("format") == FORMAT:
        return load_published(path, device=device)
    model, meta, cfg = model_from_checkpoint(path, device=device)
    return model, meta, {**cfg, "path": str(path), "kind": "checkpoint"}


def _table(rows: dict[str, Any]) -> str:
    if not rows:
        return "_none recorded_\n"
    return "| key | value |\n|---|---|\n" + "".join(f"| {k} | {_cell(v)} |\n" for k, v in rows.items())


def _cell(v: Any) -> str:
    text = f"{v:.6g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
    return text.replace("|", "\\|")


def model_card(info: dict[str, Any], sha256: str, *, onnx_report: dict[str, Any] | None = None) -> str:
    """The markdown model card: data, params, metrics, lineage, intended use, ONNX I/O."""
    dm = info["dataset_meta"]
    params = info.get("params") or {}
    w, h = info["input_size"]
    io_rows = {"input": f"uint8 (B, 3, {h}, {w}) RGB 0-255, normalised inside the graph"}
    io_rows.update({k: "float32 (" + ", ".join(map(str, v)) + ")" for k, v in info.get("outputs", {}).items()})
    parts = [
        f"# {info['name']}\n",
        f"Top-down 2D keypoint model `{info['preset']}` for **{dm['name']}** ({dm.get('category', 'object')}, "
        f"{info['num_keypoints']} keypoints), input {w}x{h} (w x h). File sha256 `{sha256}`.\n",
        "## Intended use\n",
        "Keypoints of one instance per crop, given its bounding box (from a detector or labels), on images like "
        "the training data. Not validated for other species, viewpoints or image domains; re-evaluate before "
        "relying on it elsewhere. Outputs are input-pixel keypoints with per-keypoint scores; low scores mean "
        "unreliable points.\n",
        "## Data\n",
        _table({"dataset": params.get("dataset"), "train split": params.get("train_split"), "val split": params.get("val_split"),
                "keypoints": ", ".join(k["name"] for k in dm["keypoints"]), "OKS sigmas": "yes" if dm.get("sigmas") else "default"}),
        "\n## Metrics (val)\n", _table(info.get("metrics") or {}),
        "\n## Lineage\n", _table(info.get("lineage") or {}),
        "\n## Params\n", _table(flatten({k: params[k] for k in ("model", "train", "test", "aug") if k in params})),
        "\n## Codec\n", _table(info.get("codec") or {}),
        "\n## ONNX\n", _table(io_rows),
    ]
    if onnx_report and onnx_report.get("parity"):
        p = onnx_report["parity"]
        source = "val" if p.get("crops_from") == "given" else "random"
        parts.append(f"\nParity with PyTorch on {p['crops']} {source} crops: max |output diff| {p['max_abs_diff']:.2e}, "
                     f"max keypoint diff {p['max_keypoint_px']:.3f} px.\n")
    parts.append(f"\n_Published {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from `{info['source']['checkpoint']}` "
                 f"(epoch {info['source']['epoch']}, {info['source']['weights']} weights)._\n")
    return "\n".join(parts)


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def score_published(path: str | Path, *, dataset: str | None = None, split: str | None = None) -> dict[str, float]:
    """COCO AP / PCK of a published model on ``dataset``/``split`` (default: its own val split)."""
    from pose.data.layout import load_dataset
    from pose.recipes.topdown import evaluate

    model, meta, info = load_published(path)
    params = PoseParams.model_validate(info["params"])
    gt, _ = load_dataset(dataset or params.dataset, split=split or params.val_split, meta=None if dataset else params.meta)
    return _scalar_metrics(evaluate(model, gt, meta, batch_size=params.test.batch_size))


def publish_command(checkpoint: str | Path, out: str | Path, *, name: str | None = None, register: bool = False,
                    onnx: bool = True, min_gain: float = 0.0, dataset: str | None = None, split: str | None = None,
                    root: str | Path | None = None, detector: str | Path | None = None) -> dict[str, Any]:
    """``pose publish CHECKPOINT --out DIR [--name] [--register]``: publish (+ ONNX); with
    ``register``, score the new model and the current champion on the same val set, register a
    new version (alias challenger) and run the promotion gate. A ``detector`` checkpoint is
    published beside it and, with ``register``, goes through the same steps as ``<dataset>-detector``."""
    from pose import tracking

    lineage = {k: v for k, v in tracking.lineage_tags(root).items() if not k.startswith("mlflow.")}
    new = None
    if register:
        from pose.recipes.topdown import score_checkpoint

        new = _scalar_metrics(score_checkpoint(checkpoint, dataset=dataset, split=split, device="cpu"))
    pm = publish(checkpoint, out, name=name, metrics=new, lineage=lineage, onnx=onnx, dataset=dataset, split=split)
    result: dict[str, Any] = {"published": str(pm.path), "card": str(pm.card), "onnx": str(pm.onnx) if pm.onnx else None,
                              "sha256": pm.sha256, "metrics": pm.meta["metrics"],
                              "parity": (pm.onnx_report or {}).get("parity")}
    if new is None:
        if detector is not None:
            from pose.publish.detector import model_name, publish_detector

            det_path, det_sha = publish_detector(detector, out, name=model_name(pm.meta["dataset_meta"]["name"]), lineage=lineage)
            result["detector"] = {"published": str(det_path), "sha256": det_sha}
        return result
    from pose.publish import registry

    with tracking.stage_run("publish", root=root, tags={"pose.dataset": pm.meta["dataset_meta"]["name"], "pose.preset": pm.meta["preset"]}) as run:
        run.log_metrics(new)
        reg = registry.register(pm, root=root, run=run)
        champ = registry.champion_file(reg["name"], root=root)
        champ_metrics = score_published(champ[1], dataset=dataset, split=split) if champ and champ[0] != reg["version"] else None
        decision = registry.promote_if_better(reg["name"], reg["version"], new.get("AP", float("nan")),
                                              None if champ_metrics is None else champ_metrics.get("AP"), min_gain, root=root)
        run.set_tags({"pose.gate_verdict": decision["verdict"]})
        if detector is not None:
            from pose.publish.detector import publish_and_gate

            result["detector"] = publish_and_gate(detector, out, dataset=pm.meta["dataset_meta"]["name"], run=run, lineage=lineage,
                                                  min_gain=min_gain, root=root, split=split)
    return {**result, "champion_metrics": champ_metrics, "registered": reg, "decision": decision}
