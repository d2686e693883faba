"""``params/detector.yaml: preset: none``: the detector stage writes a marker instead of a model.

The marker is a checkpoint like any other (``best.pth`` and ``latest.pth``, loaded with
``weights_only=True``) whose config says ``kind: detector, preset: none`` and which holds no
weights, plus ``detector.json`` (``{"detector": "none"}``) for people and ``dvc metrics``. So
``dvc.yaml`` stays as it is (the stage's outs and the later stages' deps exist), and each later
step asks ``is_no_detector`` once: evaluation scores GT boxes only, publishing registers the pose
model alone, and ``load_detector`` refuses the marker with a hint towards ``pose infer --follow``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pose.engine.checkpoint import load_checkpoint, save_checkpoint
from pose.errors import CheckpointError
from pose.fileio import write_json
from pose.params import DetectorParams
from pose.params.detector import NO_DETECTOR

log = logging.getLogger(__name__)
KIND = "detector"
MARKER_FILES = ("best.pth", "latest.pth")
SUMMARY = "detector.json"


def marker_config(params: DetectorParams) -> dict[str, Any]:
    return {"kind": KIND, "preset": NO_DETECTOR, "params": params.model_dump(mode="json")}


def write_no_detector(params: DetectorParams, work_dir: str | Path) -> dict[str, Any]:
    """Write the marker checkpoints and ``detector.json`` into ``work_dir``; ``pose train-det``'s summary."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    state = {"config": marker_config(params), "epoch": 0, "history": []}
    for name in MARKER_FILES:
        save_checkpoint(work / name, state)
    write_json(work / SUMMARY, {"detector": NO_DETECTOR, "reason": "params/detector.yaml preset: none; pose training uses the labelled boxes"}, indent=2)
    log.info("detector: none (preset none): no detector trained; marker %s", work / MARKER_FILES[0])
    return {"best": None, "history": [], "train_seconds": 0.0, "is_main": True, "detector": NO_DETECTOR}


def is_no_detector(path: str | Path) -> bool:
    """True when ``path`` is the marker of ``preset: none`` (a missing or foreign file is not)."""
    try:
        cfg = load_checkpoint(path).get("config")
    except CheckpointError:
        return False
    return isinstance(cfg, dict) and cfg.get("kind") == KIND and cfg.get("preset") == NO_DETECTOR


def refuse_marker(cfg: Any, path: str | Path) -> None:
    """``CheckpointError`` when a loaded detector config is the ``preset: none`` marker."""
    if isinstance(cfg, dict) and cfg.get("preset") == NO_DETECTOR:
        raise CheckpointError("no detector here: it was trained with params/detector.yaml preset: none", file=path,
                              hint="run `pose infer` with --follow (the previous frame's keypoints) or --full-frame")
