"""Warm-started retraining (``train.init: champion``), the registry side: which registered champion
a training stage starts from, resolved above the recipes (which only see a weights path).

``resolve`` asks the MLflow registry for the champion of ``<dataset>-<kind>``, checks that it fits
the data and params (``pose.recipes.warmstart``: same dataset, keypoint or class names, preset)
and copies its published weights beside the choice. The DVC stage ``champion`` (``pose pipeline
champion``, ``champion_stage``) writes one choice per model, ``build/champion/<kind>.json``, and
each training stage depends on its file: DVC re-runs training exactly when the champion it
starts from changed (the JSON holds the version and the weights' sha256, nothing else that
moves). The stage runs when its inputs change (new data, ``train.init``, the preset), so a
retraining on new data starts from the champion of that moment.

A champion can also move with nothing else changing. ``stale_choices`` (called by
``run_pipeline`` before ``dvc status``) removes a choice whose champion moved to a version this
pipeline did not publish itself (another clone, a manual ``pose publish --register``), so DVC
re-runs ``champion`` and then the training. A champion this pipeline just promoted does not:
re-training the same data from its own output on every run would never be "up to date".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pose import tracking
from pose.errors import CheckpointError
from pose.fileio import sha256_file, write_bytes
from pose.params import load_params
from pose.pipeline.dvc import CHOICES, PUBLISH_RESULT
from pose.recipes.warmstart import CHAMPION, KINDS, Choice, data_identity, file_identity, mismatch, read_choice, write_choice



#: The registry alias of the model a warm start starts from (``pose.publish.registry.CHAMPION``).
ALIAS = "champion"


def _no_champion(name: str, kind: str, root: str | Path | None) -> str:
    others = sorted(rm.name for rm in tracking.client(root).search_registered_models()
                    if rm.name != name and rm.name.endswith(f"-{kind}") and ALIAS in rm.aliases)
    return (f"no champion of '{name}' in the registry" +
            (f" (the registry's {kind} champions are for other datasets: {', '.join(others)})" if others else ""))


def resolve(kind: str, params: Any, out_dir: str | Path, *, root: str | Path | None = None) -> Choice:
    """The champion a ``kind`` run of ``params`` starts from (its weights copied to ``out_dir/<kind>.pth``),
    or why none does; ``Choice(kind)`` when ``train.init`` is ``configured``."""
    if params.train.init != CHAMPION:
        return Choice(kind)
    want = data_identity(kind, params)
    if not tracking.store_exists(root):
        return Choice(kind, CHAMPION, reason=f"no registry (no MLflow store at {tracking.project_root(root) / 'mlruns'})")
    name = tracking.registered_name(want.dataset, kind)
    found = tracking.alias_files(tracking.client(root), name, ALIAS)
    if found is None:
        return Choice(kind, CHAMPION, reason=_no_champion(name, kind, root), name=name)
    version, folder = found
    path = next(iter(sorted(folder.rglob("*.pth"))), None)
    if path is None:
        raise CheckpointError(f"champion version {version} of '{name}' has no weights file", file=folder)
    reason = mismatch(kind, want, file_identity(kind, path, want.dataset))
    if reason:
        return Choice(kind, CHAMPION, reason=f"{reason} [{name} v{version}]", name=name, version=version)
    out = Path(out_dir) / f"{kind}.pth"
    write_bytes(out, Path(path).read_bytes())
    return Choice(kind, CHAMPION, use=True, reason="fits", name=name, version=version, sha256=sha256_file(out), file=str(out))


def champion_stage(dataset: str, out: str | Path, params_files: dict[str, Path], *,
                   root: str | Path | None = None) -> dict[str, Choice]:
    """Stage ``champion``: resolve each model's champion (``params_files``: kind -> params file,
    trained on ``dataset``) and write ``out/<kind>.json``."""
    choices = {}
    for kind, path in params_files.items():
        params = load_params(path, kind, [f"dataset={dataset}"])
        choice = resolve(kind, params, out, root=root)
        if not choice.use:
            (Path(out) / f"{kind}.pth").unlink(missing_ok=True)
        write_choice(Path(out) / f"{kind}.json", choice)
        choices[kind] = choice
    return choices


def describe(choice: Choice) -> str:
    """One line: where the ``choice.kind`` training starts."""
    if choice.init != CHAMPION:
        return "train.init configured"
    if choice.use:
        return f"warm start from {choice.name} v{choice.version} ({choice.file})"
    return f"no warm start: {choice.reason}; training uses the configured init"


def _own_sha256(root: Path, kind: str) -> str | None:
    """The sha256 of the model this pipeline last published (``build/publish/publish.json``)."""
    try:
        result = json.loads((root / PUBLISH_RESULT).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    entry = result if kind == "pose" else result.get("detector") or {}
    return entry.get("sha256") if isinstance(entry, dict) else None


def stale_choices(root: str | Path) -> list[str]:
    """Remove each choice whose champion moved to a version this pipeline did not publish; the kinds removed."""
    root = Path(root)
    removed = []
    for kind in KINDS:
        path = root / CHOICES / f"{kind}.json"
        if not path.is_file():
            continue
        choice = read_choice(path, kind)
        if choice.init != CHAMPION or not choice.name or not tracking.store_exists(root):
            continue
        current = tracking.model_aliases(tracking.client(root), choice.name).get(ALIAS)
        if current is None or current == choice.version:
            continue
        tags = tracking.client(root).get_model_version(choice.name, current).tags
        if tags.get("pose.sha256") != _own_sha256(root, kind):
            path.unlink()
            removed.append(kind)
    return removed
