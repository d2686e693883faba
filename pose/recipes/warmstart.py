"""Warm-started retraining (``train.init: champion``), the part below the registry: what a
training run does with the champion the pipeline resolved for it.

The pipeline layer (``pose.pipeline.champion``) asks the MLflow registry for the champion and
writes a ``Choice`` (``build/champion/<kind>.json``: the registered version, the sha256 of its
published weights copied beside it, or why it does not fit). Here, ``warm_start`` checks that
choice against the data and params actually trained (same dataset, keypoint or class names and
preset; the weights file unchanged), then swaps the init (``model.pretrained`` / ``pretrained``
= the champion's file, loaded through ``pose.modelio.foreign`` with ``weights_only=True``) and
the schedule (``train.finetune_epochs``) into the params. Anything that does not fit keeps the
configured init and says why in one warning line: nothing trains on silently wrong weights.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pose.data.coco import read_json
from pose.data.layout import load_source_meta, resolve_source
from pose.errors import CheckpointError
from pose.fileio import sha256_file, write_json
from pose.modelio.foreign import read_checkpoint
from pose.params import DetectorParams, PoseParams

log = logging.getLogger(__name__)

KINDS = ("pose", "detector")
CHAMPION = "champion"


@dataclass(frozen=True)
class Identity:
    """What a champion must share with the run it warm-starts."""

    dataset: str  #: dataset meta name (registered models are named ``<dataset>-<kind>``)
    names: tuple[str, ...]  #: keypoint names (pose) or class names (detector), in order
    preset: str


@dataclass(frozen=True)
class Choice:
    """Where a ``kind`` training run starts: ``init`` as configured, or the champion (``use``)
    with its registered ``name``/``version`` and local weights ``file`` (``sha256``); ``reason``
    says why a champion is not used."""

    kind: str
    init: str = "configured"
    use: bool = False
    reason: str = ""
    name: str | None = None
    version: str | None = None
    sha256: str | None = None
    file: str | None = None

    @property
    def parent(self) -> dict[str, str] | None:
        """The lineage record (``config["init"]["parent"]``) of a used champion."""
        return {"name": str(self.name), "version": str(self.version), "sha256": str(self.sha256)} if self.use else None

    def tags(self) -> dict[str, str]:
        """MLflow tags of the training run: ``pose.train_init`` (what it started from) and, for a
        champion that was asked for but not used, ``pose.train_init.fallback`` (why). The parent
        version itself is in the ``pose.init.*`` tags every training run gets from its checkpoint
        config (``init_summary``: ``pose.init.parent_model``, ``pose.init.parent_version``)."""
        tags = {"pose.train_init": CHAMPION if self.use else "configured"}
        if self.init == CHAMPION and not self.use:
            tags["pose.train_init.fallback"] = self.reason
        return tags


def write_choice(path: str | Path, choice: Choice) -> None:
    """The choice as JSON (stable bytes: DVC compares them)."""
    write_json(Path(path), asdict(choice), indent=2)


def read_choice(path: str | Path, kind: str) -> Choice:
    """A choice written by ``write_choice`` (``pose pipeline champion``)."""
    try:
        d = json.loads(Path(path).read_text("utf-8"))
        choice = Choice(**d)
    except (OSError, ValueError, TypeError) as e:
        raise CheckpointError(f"not a champion choice ({' '.join(str(e).split())[:120]})", file=path,
                              hint="write it with `pose pipeline champion`") from None
    if choice.kind != kind:
        raise CheckpointError(f"a champion choice for the {choice.kind} model, not the {kind} model", file=path)
    return choice


def data_identity(kind: str, params: PoseParams | DetectorParams) -> Identity:
    """The identity of the data and model a run trains (its train split's meta; detector: class names)."""
    src = resolve_source(params.dataset, split=params.train_split, meta=getattr(params, "meta", None))
    meta = load_source_meta(src)
    if isinstance(params, PoseParams):
        return Identity(meta.name, tuple(meta.keypoint_names), params.model.preset)
    cats = sorted((c for c in read_json(src.annotations).get("categories") or [] if isinstance(c, dict)), key=lambda c: int(c["id"]))
    return Identity(meta.name, tuple(str(c.get("name", c["id"])) for c in cats), params.preset)


def file_identity(kind: str, path: str | Path, dataset: str) -> Identity:
    """The identity of a published file (read ``weights_only``); a detector file names no dataset:
    ``dataset`` (its registered model's) stands in."""
    state = read_checkpoint(path, entry="champion")
    if kind == "pose":
        info = state.get("meta") if isinstance(state.get("meta"), dict) else {}
        dm = info.get("dataset_meta") or {}
        return Identity(str(dm.get("name")), tuple(str(k.get("name")) for k in dm.get("keypoints") or []), str(info.get("preset")))
    cfg = state.get("config") if isinstance(state.get("config"), dict) else {}
    return Identity(dataset, tuple(str(n) for n in cfg.get("class_names") or []), str(cfg.get("preset")))


def _names(names: tuple[str, ...]) -> str:
    return f"{len(names)}: " + ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")


def mismatch(kind: str, want: Identity, have: Identity) -> str | None:
    """Why a champion (``have``) does not fit a run (``want``); None when it does."""
    if have.dataset != want.dataset:
        return f"other dataset (the champion was trained on '{have.dataset}', this run trains '{want.dataset}')"
    if have.names != want.names:
        what = "keypoints" if kind == "pose" else "classes"
        return f"other {what} (the champion has {_names(have.names)}; the data has {_names(want.names)})"
    if have.preset != want.preset:
        return f"other preset (the champion is '{have.preset}', params say '{want.preset}')"
    return None


def check(choice: Choice, params: PoseParams | DetectorParams) -> Choice:
    """``choice`` re-checked against the run's own data and params: a changed weights file is an
    error; a champion that does not fit them becomes a fallback with the reason."""
    if not choice.use:
        return choice
    file = Path(str(choice.file))
    if not file.is_file() or sha256_file(file) != choice.sha256:
        raise CheckpointError(f"the champion's weights changed or are gone since they were resolved ({choice.name} v{choice.version})",
                              file=file, hint="run `pose pipeline champion` (or the pipeline) again")
    want = data_identity(choice.kind, params)
    reason = mismatch(choice.kind, want, file_identity(choice.kind, file, want.dataset))
    return replace(choice, use=False, reason=reason) if reason else choice


def configured_init(params: PoseParams | DetectorParams) -> str:
    """The init a run falls back to, in words."""
    value = params.model.pretrained if isinstance(params, PoseParams) else params.pretrained
    return f"pretrained {value}" if value is not None else "the preset's default init"


def warm_start(choice: Choice, params: Any) -> tuple[Any, Choice]:
    """The params a run trains with: the champion's weights as the init and ``train.finetune_epochs``
    when ``choice`` fits (re-checked here), else ``params`` unchanged and one warning naming why."""
    if params.train.init != CHAMPION:
        return params, Choice(choice.kind)
    choice = check(choice, params)
    if not choice.use:
        log.warning("train.init is champion, but %s: training from the configured init (%s, %d epochs)",
                    choice.reason, configured_init(params), params.train.epochs)
        return params, choice
    train = params.train.model_copy(update={"epochs": params.train.finetune_epochs or params.train.epochs})
    if isinstance(params, PoseParams):
        return params.model_copy(update={"model": params.model.model_copy(update={"pretrained": choice.file}), "train": train}), choice
    return params.model_copy(update={"pretrained": choice.file, "train": train}), choice
