"""Detector recipe: ``params/detector.yaml`` -> datasets, torchvision detector, engine ``Task``; train and test.

Mirrors ``pose.recipes.topdown``: ``train_detector`` builds everything and calls ``fit``
(loss = the sum of torchvision's loss dict, ``best.pth`` by ``bbox_mAP`` on the val split);
``score_detector`` scores a checkpoint with COCO bbox mAP. ``train_from_config`` and
``score_from_config`` are what ``pose train-det`` / ``pose test-det`` call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from pose.data.coco import CocoData
from pose.data.layout import load_dataset
from pose.detection.dataset import DetectionDataset, category_labels, collate
from pose.detection.evaluate import BBOX_KEYS, evaluate_boxes, results_json
from pose.detection.none import write_no_detector
from pose.detection.predict import checkpoint_config, forward, input_size_of, load_detector
from pose.detection.presets import build_detector, get_preset
from pose.engine import distributed as dist
from pose.engine.curves import CurveFiles
from pose.engine.loader import make_loader
from pose.engine.runtime import resolve_device, resolve_workers, seed_everything
from pose.engine.trainer import Task, fit
from pose.errors import ConfigError
from pose.fileio import write_json
from pose.params import DetectorParams, load_params, load_run_params, record_params, validate_params
from pose.recipes.init import apply_init, backbone_choice, print_init


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, data: CocoData, category_ids: list[int], *, batch_size: int = 16,
                    workers: int = 0) -> list[dict[str, Any]]:
    """COCO bbox results (image pixels, every box the model keeps) for every image of ``data``."""
    model.eval()
    label_of = {c: i + 1 for i, c in enumerate(category_ids)}
    ds = DetectionDataset(data, input_size_of(model), train=False, label_of=label_of)
    ids: list[int] = []
    dets = []
    for batch in make_loader(ds, batch_size=batch_size, workers=workers, shuffle=False, seed=0, collate_fn=collate):
        for boxes, scores, labels in forward(model, batch["images"], batch["scales"]):
            dets.append((boxes.numpy(), scores.numpy(), labels.numpy()))
        ids.extend(batch["image_ids"])
    return results_json(ids, dets, category_ids)


def evaluate_detector(model: torch.nn.Module, data: CocoData, category_ids: list[int], *, batch_size: int = 16, workers: int = 0,
                      out_dir: str | Path | None = None) -> dict[str, Any]:
    """Predict on ``data`` and score with COCOeval (bbox)."""
    return evaluate_boxes(data, predict_dataset(model, data, category_ids, batch_size=batch_size, workers=workers), out_dir=out_dir)


def _loss(model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    device = next(model.parameters()).device
    images = [im.to(device, non_blocking=True) for im in batch["images"]]
    targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in batch["targets"]]
    return model(images, targets)


def train_detector(params: DetectorParams, work_dir: str | Path, *, resume: str | None = None, load_from: str | None = None,
                   device: str = "auto", validate: bool = True, callbacks: list[Any] | None = None, seed: int | None = None,
                   deterministic: bool | None = None, console: Any = None, launcher: str = "none",
                   parent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train a detector as ``params`` say (``seed``/``deterministic`` override ``train.*``); checkpoints go to ``work_dir``.
    ``launcher="torchrun"``: DDP across the processes torchrun started (rank 0 logs and saves).
    ``preset: none`` trains nothing: a marker checkpoint says so (``pose.detection.none``). ``parent``: the
    registered version ``pretrained`` is (lineage of a warm start)."""
    if params.no_detector:
        return write_no_detector(params, work_dir)
    with dist.launch(launcher, resolve_device(device)) as dev:
        return _train_detector(params, work_dir, dev, resume=resume, load_from=load_from, validate=validate, callbacks=callbacks,
                               seed=seed, deterministic=deterministic, console=console, parent=parent)


def _train_detector(params: DetectorParams, work_dir: str | Path, dev: torch.device, *, resume: str | None, load_from: str | None,
                    validate: bool, callbacks: list[Any] | None, seed: int | None, deterministic: bool | None, console: Any,
                    parent: dict[str, Any] | None = None) -> dict[str, Any]:
    t = params.train
    seed = t.seed if seed is None else seed
    seed_everything(seed + dist.rank(), t.deterministic if deterministic is None else deterministic)
    train_data, _ = load_dataset(params.dataset, split=params.train_split)
    val_data, _ = load_dataset(params.dataset, split=params.val_split)
    category_ids, names = category_labels(train_data)
    if not category_ids:
        raise ConfigError("the training split has no categories", file=params.dataset, entry=f"{params.train_split}.categories")
    size = params.resolved_input_size()
    workers = resolve_workers(t.workers, dev)
    torch.manual_seed(seed)
    model = build_detector(params.preset, len(category_ids), size, pretrained=backbone_choice(params.pretrained))
    init = apply_init(model, pretrained=params.pretrained, preset_default=get_preset(params.preset).pretrained, load_from=load_from,
                      detector=True, pretrained_entry="pretrained", parent=parent)
    if dist.is_main():
        print_init(init, console)
    label_of = {c: i + 1 for i, c in enumerate(category_ids)}
    train_set = DetectionDataset(train_data, size, train=True, aug=params.aug.to_aug(), label_of=label_of)
    if len(train_set) == 0:
        raise ConfigError("no training images", file=params.dataset, entry=params.train_split)
    per_rank = -(-len(train_set) // dist.world_size())
    drop_last = per_rank >= t.batch_size
    iters = max(1, per_rank // t.batch_size if drop_last else -(-per_rank // t.batch_size))

    def loaders(epoch: int) -> DataLoader:
        return make_loader(train_set, batch_size=t.batch_size, workers=workers, shuffle=True, seed=seed, epoch=epoch, drop_last=drop_last, collate_fn=collate)

    def evaluate_val(m: torch.nn.Module) -> dict[str, float]:
        if not dist.is_main():
            return {}
        metrics = evaluate_detector(m, val_data, category_ids, batch_size=params.test.batch_size, workers=workers,
                                    out_dir=Path(work_dir) / "val")
        return {k: float(metrics[k]) for k in BBOX_KEYS if metrics[k] is not None}

    task = Task(model=model, loss=_loss, loaders=loaders, iters_per_epoch=iters, evaluate=evaluate_val, best_metric="bbox_mAP",
                config={**checkpoint_config(params.preset, size, names, category_ids, params.model_dump(mode="json"),
                                            data=train_data.fingerprint() + val_data.fingerprint()), "seed": seed, "init": init})
    if dist.is_main():
        record_params(work_dir, params)
    t0 = time.perf_counter()
    summary = fit(task, t, work_dir=work_dir, device=dev, seed=seed, workers=workers, resume=resume,
                  load_from=None, validate=validate, callbacks=[*(callbacks or []), CurveFiles(work_dir, BBOX_KEYS)], console=console)
    summary["init"] = init
    summary["train_seconds"] = time.perf_counter() - t0
    summary["train_images"] = len(train_set)
    summary["is_main"] = dist.is_main()
    return summary


def score_detector(checkpoint: str | Path, *, dataset: str | None = None, split: str | None = None, device: str = "auto",
                  batch_size: int | None = None, workers: int = 0, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Score a detector checkpoint on a split (the val split it was trained with by default)."""
    model, info = load_detector(checkpoint, device=resolve_device(device))
    params = validate_params(info.config.get("params") or {}, DetectorParams, source=f"{checkpoint}:config.params")
    gt, _ = load_dataset(dataset or params.dataset, split=split or params.val_split)
    return evaluate_detector(model, gt, info.category_ids, batch_size=batch_size or params.test.batch_size, workers=workers, out_dir=out_dir)


# --------------------------------------------------------------------------- CLI entries
def train_from_config(config: str | Path, work_dir: str | Path, *, resume: str | None = None, load_from: str | None = None,
                      validate: bool = True, seed: int | None = None, deterministic: bool = False, overrides: list[str] | None = None,
                      device: str = "auto", callbacks: list[Any] | None = None, console: Any = None, launcher: str = "none",
                      autoscale_lr: bool = False) -> dict[str, Any]:
    """``pose train-det CONFIG --work-dir DIR ...``: load params (+ overrides), record them in ``work_dir/params.yaml``, train."""
    params = load_run_params(config, DetectorParams, overrides, seed=seed, deterministic=deterministic, autoscale_lr=autoscale_lr)
    return train_detector(params, work_dir, resume=resume, load_from=load_from, device=device, validate=validate,
                          callbacks=callbacks, console=console, launcher=launcher)


def score_from_config(config: str | Path, checkpoint: str | Path, *, out: str | Path | None = None, device: str = "auto") -> dict[str, Any]:
    """``pose test-det CONFIG CHECKPOINT [--out METRICS.json]``: the dataset/split come from CONFIG; results JSON beside ``out``."""
    params = load_params(config, DetectorParams)
    workers = resolve_workers(params.train.workers, resolve_device(device))
    metrics = score_detector(checkpoint, dataset=params.dataset, split=params.val_split, device=device,
                            batch_size=params.test.batch_size, workers=workers, out_dir=Path(out).parent if out else None)
    if out is not None:
        write_json(out, metrics, indent=2)
    return metrics
