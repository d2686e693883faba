"""Publishing and registering the detector: ``<dataset>-detector`` beside ``<dataset>-pose``.

A published detector is a stripped training checkpoint (the EMA weights become ``model``; no
optimizer, scheduler or RNG state) named ``<name>-<sha8>.pth``: ``load_detector`` reads it as
it reads a training checkpoint. In the registry it is a "models from code" pyfunc over that
file, with the same ``challenger`` / ``champion`` aliases and ``gate.*`` decision tags as the
pose model; its gate metric is COCO bbox mAP on the current val split.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pose import tracking
from pose.engine.checkpoint import load_checkpoint, model_state
from pose.fileio import write_bytes
from pose.publish import registry

#: The pyfunc: one BGR uint8 image (H, W, 3) -> (N, 6) [x1, y1, x2, y2, score, label] above 0.3.
PYFUNC_CODE = '''\
import mlflow
import numpy as np


class DetectorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from pose.detection.predict import load_detector

        self.model, _ = load_detector(context.artifacts["weights"])

    def predict(self, context, model_input, params=None):
        from pose.detection.predict import detect

        (boxes, scores, labels), = detect(self.model, [np.asarray(model_input, np.uint8)])
        return np.concatenate([boxes, scores[:, None], labels[:, None]], 1).astype(np.float32)


mlflow.models.set_model(DetectorPyfunc())
'''


def model_name(dataset: str) -> str:
    """``<dataset>-detector`` (same character rules as the pose model's name)."""
    return registry.model_name(dataset).removesuffix("-pose") + "-detector"


def publish_detector(checkpoint: str | Path, out_dir: str | Path, *, name: str, metrics: dict[str, float] | None = None,
                     lineage: dict[str, Any] | None = None) -> tuple[Path, str]:
    """Strip ``checkpoint`` into ``out_dir/<name>-<sha8>.pth``; returns (path, sha256)."""
    state = load_checkpoint(checkpoint)
    weights = model_state(state, checkpoint)
    config = {**state["config"], "metrics": dict(metrics or {}), "lineage": dict(lineage or {}),
              "source": {"checkpoint": Path(checkpoint).name, "epoch": state.get("epoch"), "weights": "ema" if state.get("ema") else "model"}}
    buf = io.BytesIO()
    torch.save({"model": {k: v.detach().cpu().contiguous() for k, v in weights.items()}, "config": config}, buf)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    path = Path(out_dir) / f"{name}-{sha[:8]}.pth"
    write_bytes(path, data)
    return path, sha


def register_detector(path: Path, sha256: str, *, name: str, metrics: dict[str, float], run: tracking.StageRun,
                      root: str | Path | None = None) -> dict[str, Any]:
    """Log a published detector as a new version of ``name`` with lineage and metric tags; alias ``challenger``."""
    from pose.detection.predict import load_detector

    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    _, info = load_detector(path)
    size = info.input_size
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, 3))]),
                               outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 6))]))
    uri = tracking.log_code_model(run, "detector-model", PYFUNC_CODE, artifacts={"weights": path},
                                  input_example=np.zeros((size, size, 3), np.uint8), output_example=np.zeros((1, 6), np.float32),
                                  pip_requirements=["posepipe", "torch", "torchvision", "numpy"], signature=signature)
    lineage = {k: v for k, v in (info.config.get("lineage") or {}).items() if not k.startswith("mlflow.")}
    tags = {**lineage, **{f"metric.{k}": v for k, v in metrics.items()}, "pose.preset": info.preset, "pose.sha256": sha256,
            "pose.file": path.name, "pose.input_size": str(size), "pose.classes": ",".join(info.class_names)}
    version = registry.add_version(uri, name, run=run, tags=tags, root=root)
    return {"name": name, "version": version, "model_uri": uri, "sha256": sha256}


def publish_and_gate(checkpoint: str | Path, out_dir: str | Path, *, dataset: str, run: tracking.StageRun, lineage: dict[str, Any],
                     min_gain: float = 0.0, root: str | Path | None = None, split: str | None = None) -> dict[str, Any]:
    """Score, publish and register the detector, then gate it against the champion re-scored on the same split."""
    from pose.detection.train import score_detector

    keys = ("bbox_mAP", "bbox_mAP50", "bbox_mAP75", "bbox_AR")
    scored = score_detector(checkpoint, split=split, device="cpu")
    metrics = {k: float(scored[k]) for k in keys if isinstance(scored.get(k), (int, float))}
    name = model_name(dataset)
    path, sha = publish_detector(checkpoint, out_dir, name=name, metrics=metrics, lineage=lineage)
    run.log_metrics({f"det_{k}": v for k, v in metrics.items()})
    reg = register_detector(path, sha, name=name, metrics=metrics, run=run, root=root)
    champ = registry.champion_file(name, root=root)
    champ_map = None
    if champ and champ[0] != reg["version"]:
        champ_map = score_detector(champ[1], split=split, device="cpu").get("bbox_mAP")
    decision = registry.promote_if_better(name, reg["version"], metrics.get("bbox_mAP", float("nan")), champ_map, min_gain, root=root)
    return {"published": str(path), "sha256": sha, "metrics": metrics, "champion_metric": champ_map, "registered": reg, "decision": decision}
