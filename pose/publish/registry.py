"""The MLflow model registry: versions of ``<dataset>-pose`` and ``<dataset>-detector``, aliases
and the promotion gate.

Each registered pose version is a pyfunc LoggedModel whose files are the published ``.pth``, its
model card and (when present) its ``.onnx``; a detector version holds the published detector
``.pth``. Their code is the short ``PYFUNC_CODE`` / ``DETECTOR_PYFUNC_CODE`` below ("models from
code", nothing pickled). Every new version gets alias ``challenger``;
``champion`` moves only through ``promote_if_better``, which writes each decision as version
tags (``gate.*``). Stages are never used.

Kill safety: ``pose.complete=true`` is the last tag ``register`` writes, after every file is
stored; the gate refuses a version without it, so ``champion`` never points at a partial one.
All MLflow calls go through ``pose.tracking``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from pose import tracking
from pose.errors import CheckpointError, ConfigError
from pose.modelio.loaders import load_detector
from pose.modelio.published import PublishedModel, load_published

CHAMPION = "champion"
CHALLENGER = "challenger"
COMPLETE = "pose.complete"

#: The pyfunc: uint8 crops (B, 3, H, W) RGB -> (B, K, 3) [x, y, score] in input pixels.
PYFUNC_CODE = '''\
import mlflow
import numpy as np


class PosePyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from pose.modelio.published import load_published

        self.model, _, _ = load_published(context.artifacts["weights"])

    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        import torch

        kpts, scores = self.model.predict(torch.as_tensor(np.asarray(model_input)))
        return np.concatenate([kpts.numpy(), scores.numpy()[..., None]], -1).astype(np.float32)


mlflow.models.set_model(PosePyfunc())
'''


#: The pyfunc: one BGR uint8 image (H, W, 3) -> (N, 6) [x1, y1, x2, y2, score, label] above 0.3.
DETECTOR_PYFUNC_CODE = '''\
import mlflow
import numpy as np


class DetectorPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from pose.detection.predict import load_detector

        self.model, _ = load_detector(context.artifacts["weights"])

    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        from pose.detection.predict import detect

        (boxes, scores, labels), = detect(self.model, [np.asarray(model_input, np.uint8)])
        return np.concatenate([boxes, scores[:, None], labels[:, None]], 1).astype(np.float32)


mlflow.models.set_model(DetectorPyfunc())
'''


#: What the pyfuncs' code imports (``pose.modelio``, ``pose.detection``), pinned at the versions of
#: this environment when logged; ``pose`` itself travels inside the model (``code_paths``), so
#: ``mlflow models serve`` needs no posepipe install (it is on no package index).
PYFUNC_REQUIREMENTS = ["torch", "torchvision", "numpy", "opencv-python-headless", "pydantic", "pyyaml", "rich"]


def pyfunc_code_paths() -> list[Path]:
    """The ``pose`` package folder, copied into every logged model."""
    import pose

    return [Path(pose.__file__).parent]


#: The pyfunc: one BGR uint8 image (H, W, 3) -> (N, K, 3) [x, y, score] in image pixels, one row per
#: detected instance: the detector, then the pose model, as ``pose infer`` does (params bbox_thr, nms_thr).
KEYPOINTS_PYFUNC_CODE = '''\
import mlflow
import numpy as np


class KeypointsPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from pose.inference.api import detector_classes, load_detector, load_pose_model

        self.pose = load_pose_model(context.artifacts["pose"])
        self.detector, info = load_detector(context.artifacts["detector"])
        self.classes = detector_classes(info, self.pose.meta)

    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        from pose.inference.infer import detect_and_estimate

        p = {"bbox_thr": 0.3, "nms_thr": 0.3, **(params or {})}
        frame, = detect_and_estimate(self.pose, self.detector, self.classes, [np.asarray(model_input, np.uint8)],
                                     bbox_thr=float(p["bbox_thr"]), nms_thr=float(p["nms_thr"]))
        return np.concatenate([frame.keypoints, frame.keypoint_scores[..., None]], -1).astype(np.float32)


mlflow.models.set_model(KeypointsPyfunc())
'''


def model_name(dataset: str, kind: str = "pose") -> str:
    """``<dataset>-<kind>`` (``-pose``, ``-detector``), with characters a registered-model name should not hold replaced."""
    return tracking.registered_name(dataset, kind)


def detector_name(dataset: str) -> str:
    """``<dataset>-detector``."""
    return model_name(dataset, "detector")


def register(published: PublishedModel | str | Path, *, name: str | None = None, root: str | Path | None = None,
             run: tracking.StageRun | None = None) -> dict[str, Any]:
    """Log a published model (``.pth`` + ``.md`` + ``.onnx`` beside it) as a new version of
    ``name`` (default ``<dataset>-pose``) with lineage and metric tags; alias ``challenger``."""
    path = Path(published.path if isinstance(published, PublishedModel) else published)
    model, meta, info = load_published(path)
    name = name or model_name(meta.name)
    if run is None:
        with tracking.stage_run("register", root=root) as own:
            return register(path, name=name, root=root, run=own)
    files = {"weights": path, **{kind: path.with_suffix(ext) for kind, ext in (("card", ".md"), ("onnx", ".onnx"))
                                 if path.with_suffix(ext).is_file()}}
    w, h = model.input_size
    example = np.zeros((1, 3, h, w), np.uint8)
    output = np.zeros((1, meta.num_keypoints, 3), np.float32)
    uri = tracking.log_code_model(run, "pose-model", PYFUNC_CODE, artifacts=files, input_example=example, output_example=output,
                                  pip_requirements=tracking.pinned(PYFUNC_REQUIREMENTS), metrics=info.get("metrics") or {},
                                  code_paths=pyfunc_code_paths())
    tags = {**{k: v for k, v in (info.get("lineage") or {}).items() if not k.startswith("mlflow.")},
            **{f"metric.{k}": v for k, v in (info.get("metrics") or {}).items()},
            "pose.dataset": meta.name, "pose.preset": info["preset"], "pose.sha256": info["sha256"], "pose.file": path.name,
            "pose.input_size": "x".join(map(str, info["input_size"])), "pose.onnx": str("onnx" in files).lower(),
            **{f"pose.{k}": v for k, v in (info.get("init") or {}).items()}}
    version = add_version(uri, name, run=run, tags=tags, root=root)
    run.set_tags({"pose.registered_model": name, "pose.registered_version": version})
    return {"name": name, "version": version, "model_uri": uri, "run_id": run.run_id, "sha256": info["sha256"]}


def register_detector(path: Path, sha256: str, *, name: str, metrics: dict[str, float], run: tracking.StageRun,
                      root: str | Path | None = None) -> dict[str, Any]:
    """Log a published detector as a new version of ``name`` with lineage and metric tags; alias ``challenger``."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    _, info = load_detector(path)
    size = info.input_size
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, 3))]),
                               outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 6))]))
    uri = tracking.log_code_model(run, "detector-model", DETECTOR_PYFUNC_CODE, artifacts={"weights": path},
                                  input_example=np.zeros((size, size, 3), np.uint8), output_example=np.zeros((1, 6), np.float32),
                                  pip_requirements=tracking.pinned(PYFUNC_REQUIREMENTS), signature=signature, metrics=metrics,
                                  code_paths=pyfunc_code_paths())
    lineage = {k: v for k, v in (info.config.get("lineage") or {}).items() if not k.startswith("mlflow.")}
    tags = {**lineage, **{f"metric.{k}": v for k, v in metrics.items()}, "pose.preset": info.preset, "pose.sha256": sha256,
            "pose.file": path.name, "pose.input_size": str(size), "pose.classes": ",".join(info.class_names),
            **{f"pose.{k}": v for k, v in (info.config.get("init_summary") or {}).items()}}
    version = add_version(uri, name, run=run, tags=tags, root=root)
    return {"name": name, "version": version, "model_uri": uri, "sha256": sha256}


def register_keypoints(pose_path: Path, detector_path: Path, *, name: str, run: tracking.StageRun,
                       root: str | Path | None = None) -> dict[str, Any]:
    """Log detector + pose as one image -> keypoints pyfunc, a new version of ``name``
    (``<dataset>-keypoints``) with alias ``challenger``."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    _, meta, info = load_published(pose_path)
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, -1, 3))]),
                               outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, meta.num_keypoints, 3))]),
                               params=ParamSchema([ParamSpec("bbox_thr", "double", 0.3), ParamSpec("nms_thr", "double", 0.3)]))
    uri = tracking.log_code_model(run, "keypoints-model", KEYPOINTS_PYFUNC_CODE, artifacts={"pose": pose_path, "detector": detector_path},
                                  input_example=np.zeros((64, 64, 3), np.uint8), output_example=np.zeros((0, meta.num_keypoints, 3), np.float32),
                                  pip_requirements=tracking.pinned(PYFUNC_REQUIREMENTS), signature=signature,
                                  metrics=info.get("metrics") or {}, code_paths=pyfunc_code_paths())
    version = add_version(uri, name, run=run, tags={"pose.dataset": meta.name, "pose.pose_file": pose_path.name,
                                                     "pose.detector_file": detector_path.name}, root=root)
    return {"name": name, "version": version, "model_uri": uri}


def add_version(model_uri: str, name: str, *, run: tracking.StageRun, tags: dict[str, Any], root: str | Path | None = None) -> str:
    """A new version of ``name`` from a logged model, marked complete (the gate's precondition,
    written last) and aliased ``challenger``. Returns the version."""
    c = tracking.client(root)
    version = tracking.register_version(c, model_uri, name, run_id=run.run_id, tags=tags)
    c.set_model_version_tag(name, version, COMPLETE, "true")
    c.set_registered_model_alias(name, CHALLENGER, version)
    return version


def aliases(name: str, *, root: str | Path | None = None) -> dict[str, str]:
    """Alias -> version of registered model ``name`` (empty when it does not exist)."""
    return tracking.model_aliases(tracking.client(root), name)


def champion_file(name: str, *, root: str | Path | None = None) -> tuple[str, Path] | None:
    """(version, local published ``.pth``) of the champion, for the caller to re-evaluate; None if none."""
    found = tracking.alias_files(tracking.client(root), name, CHAMPION)
    if found is None:
        return None
    version, folder = found
    weights = sorted(folder.rglob("*.pth"))
    if not weights:
        raise CheckpointError(f"champion version {version} of '{name}' has no weights file", file=folder)
    return version, weights[0]


def promote_if_better(name: str, version: str | int, new_ap: float, champion_ap: float | None, min_gain: float = 0.0, *,
                      root: str | Path | None = None) -> dict[str, Any]:
    """Make ``version`` the champion when it beats the champion's metric (re-measured by the
    caller on the same val set) by more than 0 and at least ``min_gain``; the first complete
    version becomes champion. Each decision is written as ``gate.*`` version tags."""
    c = tracking.client(root)
    version = str(version)
    mv = c.get_model_version(name, version)
    if mv.tags.get(COMPLETE) != "true":
        raise CheckpointError(f"version {version} of '{name}' was not fully logged; it cannot be promoted", entry="registry",
                              hint="register it again")
    current = aliases(name, root=root).get(CHAMPION)
    delta = None
    if current is None:
        verdict, reason = "promoted", "first champion"
    elif current == version:
        verdict, reason = "kept", "already champion"
    else:
        if champion_ap is None:
            raise ConfigError(f"champion v{current} of '{name}' must be re-evaluated on the same val set", entry="champion_ap")
        delta = float(new_ap) - float(champion_ap)
        better = math.isfinite(delta) and delta > 0 and delta >= min_gain
        verdict = "promoted" if better else "rejected"
        reason = f"delta {delta:+.4f} {'>=' if better else '<'} min_gain {min_gain:g}" if math.isfinite(delta) else "metric is not finite"
    decision = {"gate.time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "gate.metric": new_ap, "gate.champion_metric": champion_ap,
                "gate.champion_version": current, "gate.delta": delta, "gate.min_gain": min_gain, "gate.verdict": verdict,
                "gate.reason": reason}
    for k, v in decision.items():
        c.set_model_version_tag(name, version, k, "" if v is None else str(v))
    if verdict == "promoted":
        c.set_registered_model_alias(name, CHAMPION, version)
        if current is not None:
            c.set_model_version_tag(name, current, "gate.replaced_by", version)
    return {"name": name, "version": version, **{k.removeprefix("gate."): v for k, v in decision.items()}}


def list_registry(*, root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every registered model with its versions: aliases, key metrics, lineage and gate tags."""
    c = tracking.client(root)
    out = []
    for rm in c.search_registered_models():
        by_version: dict[str, list[str]] = {}
        for a, v in rm.aliases.items():
            by_version.setdefault(str(v), []).append(a)
        versions = []
        for mv in sorted(c.search_model_versions(f"name = '{rm.name}'"), key=lambda m: int(m.version)):
            t = mv.tags
            versions.append({
                "version": str(mv.version), "aliases": sorted(by_version.get(str(mv.version), [])),
                "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(mv.creation_timestamp / 1000)),
                "run_id": mv.run_id, "complete": t.get(COMPLETE) == "true",
                "metrics": {k.removeprefix("metric."): _num(v) for k, v in t.items() if k.startswith("metric.")},
                "lineage": {k.removeprefix("pose."): v for k, v in t.items() if k.startswith("pose.") and k != COMPLETE},
                "gate": {k.removeprefix("gate."): v for k, v in t.items() if k.startswith("gate.")},
            })
        out.append({"name": rm.name, "aliases": {a: str(v) for a, v in rm.aliases.items()}, "versions": versions})
    return out


def _num(v: str) -> float | str:
    try:
        return float(v)
    except ValueError:
        return v


def registry_command(*, as_json: bool = False, root: str | Path | None = None) -> str:
    """``pose registry [--json]``: the registry as JSON or as a plain table, ready to print."""
    rows = list_registry(root=root)
    if as_json:
        return json.dumps(rows, indent=2)
    if not rows:
        return "no registered models"
    lines = []
    for rm in rows:
        lines.append(f"{rm['name']}  aliases: {', '.join(f'{a}=v{v}' for a, v in sorted(rm['aliases'].items())) or '-'}")
        for v in rm["versions"]:
            key = "AP" if "AP" in v["metrics"] else "bbox_mAP"
            ap = v["metrics"].get(key)
            lines.append(f"  v{v['version']:<4} {','.join(v['aliases']) or '-':<20} {key} {ap if ap is not None else '-':<8} "
                         f"gate {v['gate'].get('verdict', '-'):<9} commit {v['lineage'].get('git_commit', '-')[:8]}  "
                         f"data {v['lineage'].get('data_hash', '-')[:8]}  {v['created']}")
    return "\n".join(lines)
