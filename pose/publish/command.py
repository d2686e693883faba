"""``pose publish`` and ``pose export``: the commands over model I/O (``pose.modelio``), the model
card and the registry.

Publishing takes the pose model and (``detector``) the detector through the same steps, with a
``Kind`` saying what differs between them: with ``register``, score the new model on the val
split; write its files (named by their sha256); then, in one MLflow stage run, register each as
a new version and run the champion gate against the champion re-scored on the same split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pose import tracking
from pose.detection.evaluate import BBOX_KEYS
from pose.detection.none import is_no_detector
from pose.detection.train import score_detector
from pose.errors import CheckpointError
from pose.fileio import write_text
from pose.modelio.loaders import load_any_pose
from pose.modelio.onnx import export_onnx, val_crops
from pose.modelio.published import PublishedModel, pack_pose, publish_detector
from pose.models import TopdownPoseEstimator
from pose.params import PoseParams
from pose.publish import registry
from pose.publish.card import model_card
from pose.recipes.topdown import score_model


@dataclass(frozen=True)
class Options:
    """What every model of one ``pose publish`` shares."""

    out: Path
    lineage: dict[str, Any]
    onnx: bool = True
    min_gain: float = 0.0
    dataset: str | None = None
    split: str | None = None
    root: str | Path | None = None


@dataclass(frozen=True)
class Kind:
    """What differs between publishing the pose model and the detector; the steps are shared."""

    gate_key: str  #: the metric the champion gate compares
    run_prefix: str  #: prefix of its metrics (and gate verdict tag) in the stage run
    shown: tuple[str, ...]  #: file entries of its result (``metrics`` too once registered)
    champion_key: str  #: result entry of the re-scored champion
    champion_all: bool  #: that entry holds all the champion's metrics (else its gate metric)
    score: Callable[[Path, Options], dict[str, float]]  #: metrics of a checkpoint or published file
    write: Callable[[Path, str | None, dict[str, float] | None, Options], PublishedModel]
    register: Callable[[PublishedModel, tracking.StageRun, Options], dict[str, Any]]


@dataclass
class Publication:
    """One model through the steps: its files, the metrics it was published with, the gate's outcome."""

    kind: Kind
    model: PublishedModel
    gate: dict[str, Any] = field(default_factory=dict)

    def result(self, detector: dict[str, Any] | None = None) -> dict[str, Any]:
        """The command's JSON for this model (the detector's nested in the pose model's)."""
        pm = self.model
        files = {"published": str(pm.path), "card": str(pm.card) if pm.card else None, "onnx": str(pm.onnx) if pm.onnx else None,
                 "sha256": pm.sha256, "metrics": pm.meta["metrics"], "parity": (pm.onnx_report or {}).get("parity")}
        keys = (*self.kind.shown, *(("metrics",) if self.gate else ()))
        return {**{k: files[k] for k in keys}, **({"detector": detector} if detector is not None else {}), **self.gate}


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def score_pose(path: Path, opts: Options) -> dict[str, float]:
    """COCO AP / PCK of a pose checkpoint or published model on ``opts.dataset``/``split`` (default: its own val split)."""
    model, meta, info = load_any_pose(path)
    return _scalar_metrics(score_model(model, meta, PoseParams.model_validate(info["params"]), dataset=opts.dataset, split=opts.split))


def score_boxes(path: Path, opts: Options) -> dict[str, float]:
    """COCO bbox mAP / AR of a detector checkpoint or published detector on its val split."""
    scored = score_detector(path, dataset=opts.dataset, split=opts.split, device="cpu")
    return {k: float(scored[k]) for k in BBOX_KEYS if isinstance(scored.get(k), (int, float))}


def publish(checkpoint: str | Path, out_dir: str | Path, *, name: str | None = None, metrics: dict[str, Any] | None = None,
            lineage: dict[str, Any] | None = None, onnx: bool = False, dataset: str | None = None,
            split: str | None = None) -> PublishedModel:
    """Strip ``checkpoint`` into ``out_dir/<name>-<sha8>.pth`` plus a model card (and, with
    ``onnx``, a ``<name>-<sha8>.onnx`` checked against PyTorch on val crops, random crops when
    the val split is not at hand). ``metrics`` default to the best epoch's. The ``.pth`` is
    written last: a ``.pth`` on disk means its card and ONNX are complete."""
    model, packed = pack_pose(checkpoint, name=name, metrics=metrics, lineage=lineage)
    out_dir, info = Path(out_dir), packed.meta
    onnx_path, report = None, None
    if onnx:
        onnx_path = out_dir / f"{packed.stem}.onnx"
        report = export_onnx(model, onnx_path, metadata={"dataset_meta": info["dataset_meta"], "preset": info["preset"],
                                                         "name": packed.name, "source_sha256": packed.sha256},
                             crops=val_crops(info, dataset=dataset, split=split))
    card = out_dir / f"{packed.stem}.md"
    write_text(card, model_card(info, packed.sha256, onnx_report=report))
    return PublishedModel(path=packed.write(out_dir), card=card, sha256=packed.sha256, name=packed.name, meta=info,
                          onnx=onnx_path, onnx_report=report)


def _write_pose(checkpoint: Path, name: str | None, metrics: dict[str, float] | None, opts: Options) -> PublishedModel:
    return publish(checkpoint, opts.out, name=name, metrics=metrics, lineage=opts.lineage, onnx=opts.onnx, dataset=opts.dataset,
                   split=opts.split)


def _write_detector(checkpoint: Path, name: str | None, metrics: dict[str, float] | None, opts: Options) -> PublishedModel:
    assert name is not None, "a detector is named after the pose model's dataset"
    path, sha = publish_detector(checkpoint, opts.out, name=name, metrics=metrics, lineage=opts.lineage)
    return PublishedModel(path=path, card=None, sha256=sha, name=name, meta={"metrics": dict(metrics or {})})


def _register_pose(pm: PublishedModel, run: tracking.StageRun, opts: Options) -> dict[str, Any]:
    return registry.register(pm, root=opts.root, run=run)


def _register_detector(pm: PublishedModel, run: tracking.StageRun, opts: Options) -> dict[str, Any]:
    return registry.register_detector(pm.path, pm.sha256, name=pm.name, metrics=pm.meta["metrics"], run=run, root=opts.root)


POSE = Kind(gate_key="AP", run_prefix="", shown=("published", "card", "onnx", "sha256", "metrics", "parity"),
            champion_key="champion_metrics", champion_all=True, score=score_pose, write=_write_pose, register=_register_pose)
DETECTOR = Kind(gate_key="bbox_mAP", run_prefix="det_", shown=("published", "sha256"), champion_key="champion_metric",
                champion_all=False, score=score_boxes, write=_write_detector, register=_register_detector)


def prepare(kind: Kind, checkpoint: str | Path, name: str | None, opts: Options, *, scored: bool) -> Publication:
    """Score (when ``scored``: before registering) and write one model's files."""
    metrics = kind.score(Path(checkpoint), opts) if scored else None
    return Publication(kind, kind.write(Path(checkpoint), name, metrics, opts))


def gate(pub: Publication, run: tracking.StageRun, opts: Options) -> dict[str, Any]:
    """Register ``pub`` in ``run`` and promote it if it beats the champion re-scored on the same split."""
    kind, new = pub.kind, pub.model.meta["metrics"]
    run.log_metrics({kind.run_prefix + k: v for k, v in new.items()})
    reg = kind.register(pub.model, run, opts)
    champ = registry.champion_file(reg["name"], root=opts.root)
    champ_metrics = kind.score(champ[1], opts) if champ and champ[0] != reg["version"] else None
    champ_value = None if champ_metrics is None else champ_metrics.get(kind.gate_key)
    decision = registry.promote_if_better(reg["name"], reg["version"], new.get(kind.gate_key, float("nan")), champ_value,
                                          opts.min_gain, root=opts.root)
    run.set_tags({f"pose.{kind.run_prefix}gate_verdict": decision["verdict"]})
    pub.gate = {kind.champion_key: champ_metrics if kind.champion_all else champ_value, "registered": reg, "decision": decision}
    return pub.gate


def publish_and_gate(checkpoint: str | Path, out_dir: str | Path, *, dataset: str, run: tracking.StageRun, lineage: dict[str, Any],
                     min_gain: float = 0.0, root: str | Path | None = None, split: str | None = None) -> dict[str, Any]:
    """Score, publish and register the detector of ``dataset`` in ``run``, then gate it."""
    opts = Options(out=Path(out_dir), lineage=lineage, min_gain=min_gain, split=split, root=root)
    pub = prepare(DETECTOR, checkpoint, registry.detector_name(dataset), opts, scored=True)
    gate(pub, run, opts)
    return pub.result()


def register_keypoints(pubs: list[Publication], dataset: str, run: tracking.StageRun, opts: Options) -> dict[str, Any]:
    """Detector + pose as one image -> keypoints model ``<dataset>-keypoints``; champion when both
    of its parts are now champions."""
    reg = registry.register_keypoints(pubs[0].model.path, pubs[1].model.path, name=registry.model_name(dataset, "keypoints"),
                                      run=run, root=opts.root)
    if all(p.gate["decision"]["verdict"] in ("promoted", "kept") for p in pubs):
        registry.promote_if_better(reg["name"], reg["version"], 1.0, 0.0, 0.0, root=opts.root)
    return {**reg, "aliases": registry.aliases(reg["name"], root=opts.root)}


def publish_command(checkpoint: str | Path, out: str | Path, *, name: str | None = None, register: bool = False,
                    onnx: bool = True, min_gain: float = 0.0, dataset: str | None = None, split: str | None = None,
                    root: str | Path | None = None, detector: str | Path | None = None) -> dict[str, Any]:
    """``pose publish CHECKPOINT --out DIR [--name] [--register]``: publish (+ ONNX); with
    ``register``, score the new model and the current champion on the same val set, register a
    new version (alias challenger) and run the promotion gate. A ``detector`` checkpoint is
    published beside it and, with ``register``, goes through the same steps as ``<dataset>-detector``; the
    ``preset: none`` marker (``pose.detection.none``) counts as no detector: the pose model alone."""
    if detector is not None and is_no_detector(detector):
        detector = None
    lineage = {k: v for k, v in tracking.lineage_tags(root).items() if not k.startswith("mlflow.")}
    opts = Options(out=Path(out), lineage=lineage, onnx=onnx, min_gain=min_gain, dataset=dataset, split=split, root=root)
    pose = prepare(POSE, checkpoint, name, opts, scored=register)
    dataset_name = pose.model.meta["dataset_meta"]["name"]
    pubs = [pose]
    if detector is not None:
        pubs.append(prepare(DETECTOR, detector, registry.detector_name(dataset_name), opts, scored=register))
    if register:
        tags = {"pose.dataset": dataset_name, "pose.preset": pose.model.meta["preset"]}
        with tracking.stage_run("publish", root=root, tags=tags) as run:
            for pub in pubs:
                gate(pub, run, opts)
            if detector is not None:
                pose.gate["keypoints_model"] = register_keypoints(pubs, dataset_name, run, opts)
    return pose.result(detector=pubs[1].result() if detector is not None else None)


def export_command(source: str | Path, out: str | Path, *, check: bool = True, opset: int = 17,
                   input_dtype: Literal["uint8", "float32"] = "uint8") -> dict[str, Any]:
    """``pose export CHECKPOINT|PUBLISHED --out model.onnx [--check]``: everything the command does
    (parity on the model's val crops when its dataset is at hand)."""
    model, meta, info = load_any_pose(source)
    if not isinstance(model, TopdownPoseEstimator):
        raise CheckpointError("already an ONNX model", file=source)
    extra = {"dataset_meta": meta.to_dict(), "preset": info.get("preset"), "source": Path(source).name,
             "source_sha256": info.get("sha256")}
    crops = val_crops(info) if check and "params" in info and "input_size" in info else None
    return export_onnx(model, out, opset=opset, input_dtype=input_dtype, metadata=extra, check=check, crops=crops)

