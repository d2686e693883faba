"""Top-down pose recipe: ``params/pose.yaml`` -> datasets, model, engine ``Task``; train and test.

Read it as torchvision's ``references/``: ``train_pose`` builds everything and calls the engine;
``predict`` runs a model over a dataset and maps keypoints back to image pixels; ``score_checkpoint``
scores a checkpoint with the reference COCO evaluation.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from pose.data.boxsize import auto_size
from pose.data.coco import CocoData, xyxy_to_xywh
from pose.data.dataset import TopdownDataset
from pose.data.layout import load_dataset
from pose.data.meta import DatasetMeta
from pose.data.transforms import input_to_image
from pose.engine import distributed as dist
from pose.engine.checkpoint import load_checkpoint, model_state
from pose.engine.curves import CurveFiles
from pose.engine.loader import make_loader
from pose.engine.runtime import resolve_device, resolve_workers, seed_everything
from pose.engine.trainer import Task, fit
from pose.errors import CheckpointError, ConfigError
from pose.evaluation.coco import evaluate_keypoints
from pose.evaluation.keys import VAL_KEYS
from pose.models import PRESETS, TopdownPoseEstimator, build_model
from pose.params import PoseParams, record_params
from pose.recipes.init import apply_init, backbone_choice, print_init

KIND = "pose"
log = logging.getLogger(__name__)


def build_pose_model(params: PoseParams, meta: DatasetMeta, *, pretrained: str | None = "none") -> TopdownPoseEstimator:
    """The model ``params`` describe; ``pretrained`` as ``build_model``'s (``"none"``, the default,
    for a model whose weights come from a checkpoint next)."""
    if params.model.input_size == "auto":
        raise ConfigError("auto is resolved from the training data (resolve_input_size) before a model is built", entry="model.input_size")
    size = tuple(params.model.input_size) if params.model.input_size else None
    return build_model(params.model.preset, meta.num_keypoints, input_size=size, pretrained=pretrained,
                       flip_indices=meta.flip_indices.tolist(), flip_test=params.test.flip)


def resolve_input_size(params: PoseParams, train_data: CocoData, *, announce: bool = True) -> PoseParams:
    """``params`` with ``model.input_size: auto`` replaced by the size the training boxes call for
    (``pose.data.boxsize``; logged once), so checkpoints record the resolved size; others as they are."""
    if params.model.input_size != "auto":
        return params
    chosen = auto_size(train_data)
    if announce:
        log.info("%s", chosen.describe())
    return params.model_copy(update={"model": params.model.model_copy(update={"input_size": chosen.input_size})})


def checkpoint_config(params: PoseParams, meta: DatasetMeta, model: TopdownPoseEstimator, data: str | None = None) -> dict[str, Any]:
    """What a checkpoint carries to rebuild its model without any other file (``data``: the
    training data's fingerprint, which ``--resume if-same`` compares)."""
    return {"kind": KIND, "params": params.model_dump(mode="json"), "meta": meta.to_dict(),
            "preset": params.model.preset, "input_size": list(model.input_size), "num_keypoints": meta.num_keypoints,
            "data": data}


def model_from_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[TopdownPoseEstimator, DatasetMeta, dict[str, Any]]:
    """Rebuild a pose model from a training checkpoint (EMA weights when present)."""
    state = load_checkpoint(path, map_location="cpu")
    cfg = state.get("config")
    if not isinstance(cfg, dict) or cfg.get("kind") != KIND:
        raise CheckpointError("not a pose checkpoint (no pose config inside)", file=path)
    meta = DatasetMeta.from_dict(cfg["meta"], source=f"{path}:meta")
    params = PoseParams.model_validate(cfg["params"])
    model = build_pose_model(params, meta)
    weights = model_state(state, path)
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"weights do not fit preset '{params.model.preset}' ({' '.join(str(e).split())[:160]})", file=path) from None
    return model.to(device).eval(), meta, cfg


@torch.no_grad()
def predict(model: TopdownPoseEstimator, dataset: TopdownDataset, *, batch_size: int = 64, workers: int = 0,
            device: torch.device | None = None) -> list[dict[str, Any]]:
    """COCO keypoint results (image pixels) for every crop of ``dataset``; GT crops carry ``ann_id``."""
    device = device or next(model.parameters()).device
    model.eval()
    results: list[dict[str, Any]] = []
    loader = make_loader(dataset, batch_size=batch_size, workers=workers, shuffle=False, seed=0)
    cat = int(dataset.data.categories[0]["id"]) if dataset.data.categories else 1
    for batch in loader:
        kpts, scores = model(batch["image"].to(device), mode="predict")
        pts = input_to_image(kpts.float().cpu().numpy(), batch["center"].numpy(), batch["scale"].numpy(),
                             batch["rotation"].numpy(), model.input_size, udp=dataset.udp)
        scores = scores.float().cpu().numpy()
        flat = np.concatenate([pts, scores[..., None]], axis=2).reshape(len(pts), -1).round(3)
        boxes = xyxy_to_xywh(batch["bbox"].numpy())
        for j in range(len(pts)):
            r = {"image_id": int(batch["image_id"][j]), "category_id": cat, "keypoints": flat[j].tolist(),
                 "score": float(scores[j].mean()), "bbox_score": float(batch["bbox_score"][j]),
                 "bbox": [round(float(v), 3) for v in boxes[j]]}
            if int(batch["ann_id"][j]) >= 0:
                r["ann_id"] = int(batch["ann_id"][j])
            results.append(r)
    return results


def evaluate(model: TopdownPoseEstimator, gt: CocoData, meta: DatasetMeta, *, boxes: Any = None, batch_size: int = 64,
             workers: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Predict on ``gt`` (GT boxes, or detection ``boxes``) and score with COCOeval + PCK."""
    ds = TopdownDataset(gt, meta, input_size=model.input_size, train=False, boxes=boxes)
    results = predict(model, ds, batch_size=batch_size, workers=workers)
    return evaluate_keypoints(gt, results, meta, out_dir=out_dir)


def train_pose(params: PoseParams, work_dir: str | Path, *, resume: str | None = None, load_from: str | None = None,
               device: str = "auto", validate: bool = True, callbacks: list[Any] | None = None,
               launcher: str = "none", console: Any = None, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train a top-down pose model as ``params`` say; checkpoints and the resolved params go to ``work_dir``.
    ``parent``: the registered version ``model.pretrained`` is (lineage of a warm start, see ``apply_init``)."""
    with dist.launch(launcher, resolve_device(device)) as dev:
        t = params.train
        seed_everything(t.seed + dist.rank(), t.deterministic)
        train_data, meta = load_dataset(params.dataset, split=params.train_split, meta=params.meta)
        val_data, _ = load_dataset(params.dataset, split=params.val_split, meta=params.meta)
        params = resolve_input_size(params, train_data, announce=dist.is_main())
        torch.manual_seed(t.seed)
        workers = resolve_workers(t.workers, dev)
        model = build_pose_model(params, meta, pretrained=backbone_choice(params.model.pretrained))
        init = apply_init(model, pretrained=params.model.pretrained, preset_default=PRESETS[params.model.preset].pretrained,
                          load_from=load_from, parent=parent)
        if dist.is_main():
            print_init(init, console)
        train_set = TopdownDataset(train_data, meta, input_size=model.input_size, train=True, codec=model.codec, aug=params.aug)
        if len(train_set) == 0:
            raise ConfigError("no training instances with labelled keypoints", file=params.dataset, entry=params.train_split)

        def loaders(epoch: int) -> DataLoader:
            return make_loader(train_set, batch_size=t.batch_size, workers=workers, shuffle=True, seed=t.seed, epoch=epoch,
                               drop_last=len(train_set) >= t.batch_size)

        def loss(m: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
            return m(batch["image"], batch["targets"], mode="loss")

        def evaluate_val(m: torch.nn.Module) -> dict[str, float]:
            if not dist.is_main():
                return {}
            metrics = evaluate(m, val_data, meta, batch_size=params.test.batch_size, workers=workers,
                               out_dir=Path(work_dir) / "val")
            return {k: float(v) for k, v in metrics.items() if k in VAL_KEYS and v is not None}

        task = Task(model=model, loss=loss, loaders=loaders, iters_per_epoch=max(1, len(loaders(0))), evaluate=evaluate_val, best_metric="AP",
                    config={**checkpoint_config(params, meta, model, data=train_data.fingerprint() + val_data.fingerprint()), "init": init})
        t0 = time.perf_counter()
        is_main = dist.is_main()
        if is_main:
            record_params(work_dir, params)
        summary = fit(task, t, work_dir=work_dir, device=dev, seed=t.seed, workers=workers,
                      resume=resume, load_from=None, validate=validate, callbacks=[*(callbacks or []), CurveFiles(work_dir, VAL_KEYS)],
                      console=console)
    summary["init"] = init
    summary["train_seconds"] = time.perf_counter() - t0
    summary["is_main"] = is_main
    summary["train_instances"] = len(train_set)
    return summary


def score_checkpoint(checkpoint: str | Path, *, dataset: str | None = None, split: str | None = None, det_results: str | Path | None = None,
              flip: bool | None = None, device: str = "auto", out_dir: str | Path | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """Score a checkpoint on a split (its own val split by default), GT boxes or detections."""
    model, meta, cfg = model_from_checkpoint(checkpoint, device=resolve_device(device))
    if flip is not None:
        model.flip_test = flip
    return score_model(model, meta, PoseParams.model_validate(cfg["params"]), dataset=dataset, split=split, boxes=det_results,
                       out_dir=out_dir, batch_size=batch_size)


def score_model(model: Any, meta: DatasetMeta, params: PoseParams, *, dataset: str | None = None, split: str | None = None,
                boxes: Any = None, out_dir: str | Path | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """Score a model trained with ``params`` on a split of ``dataset`` (default: its own val split), GT boxes or detections."""
    gt, _ = load_dataset(dataset or params.dataset, split=split or params.val_split, meta=None if dataset else params.meta)
    if gt.num_keypoints != meta.num_keypoints:
        raise ConfigError(f"the checkpoint predicts {meta.num_keypoints} keypoints, the dataset has {gt.num_keypoints}", file=dataset or params.dataset)
    return evaluate(model, gt, meta, boxes=boxes, batch_size=batch_size or params.test.batch_size, out_dir=out_dir)
