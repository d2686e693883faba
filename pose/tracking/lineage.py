"""Lineage tags of every run and model version: git commit (and whether the tree is dirty), the
md5 DVC recorded for ``data/`` and a hash of the params."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pose.tracking.store import project_root


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _git(root: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _data_deps(base: Path) -> set[tuple[str, str]]:
    """(path, md5) of every ``data`` dependency in ``dvc.lock``, else of ``data.dvc``'s outs."""
    found: set[tuple[str, str]] = set()
    lock = yaml.safe_load((base / "dvc.lock").read_text("utf-8")) if (base / "dvc.lock").is_file() else None
    for stage in ((lock or {}).get("stages") or {}).values():
        for dep in stage.get("deps") or []:
            path = str(dep.get("path", ""))
            if (path == "data" or path.startswith("data/")) and dep.get("md5"):
                found.add((path, str(dep["md5"])))
    return found or set(data_dvc_outs(base))


def data_dvc_outs(root: str | Path) -> list[tuple[str, str]]:
    """(path, md5) of each out ``data.dvc`` records (DVC rewrites them when the data changed); [] without the file."""
    path = Path(root) / "data.dvc"
    if not path.is_file():
        return []
    outs = (yaml.safe_load(path.read_text("utf-8")) or {}).get("outs") or []
    return [(str(out.get("path", "data")), str(out["md5"])) for out in outs if out.get("md5")]


def data_hash(root: str | Path | None = None) -> str | None:
    """The md5 DVC recorded for ``data/`` (``dvc.lock`` deps, else ``data.dvc``); None when unknown."""
    try:
        found = _data_deps(project_root(root))
    except (yaml.YAMLError, OSError, AttributeError):
        return None
    if len(found) == 1:
        return next(iter(found))[1]
    return hashlib.sha256("".join(f"{p}:{m}\n" for p, m in sorted(found)).encode()).hexdigest()[:32] if found else None


def params_hash(root: str | Path | None = None, params: Mapping[str, Any] | None = None) -> str:
    """Hash of ``params`` when given, else of the project's ``params/*.yaml`` files."""
    if params is not None:
        return _hash(params)
    files = sorted((project_root(root) / "params").glob("*.yaml"))
    return _hash({f.name: f.read_text("utf-8") for f in files})


def lineage_tags(root: str | Path | None = None, *, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Git commit (and whether the tree is dirty), data hash and params hash, as run/version tags."""
    base = project_root(root)
    commit = _git(base, "rev-parse", "HEAD") or "unknown"
    dirty = _git(base, "status", "--porcelain", "--untracked-files=no")
    tags = {"pose.git_commit": commit, "pose.git_dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
            "pose.data_hash": data_hash(base) or "unknown", "pose.params_hash": params_hash(base, params)}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags
