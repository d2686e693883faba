"""Editing params files from code (``pose pipeline run --set FILE:KEY=VALUE``, flows, tests): the result
is validated against the file's schema before it is written, so an override can never leave a file
the stages refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pose.errors import ConfigError
from pose.fileio import write_text
from pose.params.load import validate_params
from pose.params.overrides import apply_overrides, parse_assignment
from pose.params.schemas import SCHEMAS


def set_params(root: str | Path, assignments: list[str]) -> list[Path]:
    """Apply ``FILE:KEY=VALUE`` overrides to params files under ``root`` (validated, atomic, the
    leading comment block kept); returns the files changed."""
    by_file: dict[str, list[str]] = {}
    for item in assignments:
        file, rest = parse_assignment(item)
        by_file.setdefault(file, []).append(rest)
    changed = []
    for file, overrides in by_file.items():
        path = Path(root) / file
        schema = SCHEMAS.get(path.name)
        if schema is None:
            raise ConfigError("no schema for this params file", file=file, hint=f"one of: {', '.join('params/' + n for n in SCHEMAS)}")
        if not path.is_file():
            raise ConfigError("params file not found", file=path)
        text = path.read_text("utf-8")
        d = yaml.safe_load(text) or {}
        new = _in_order(apply_overrides(d, overrides, schema), d)
        validate_params(new, schema, source=str(path))
        if new != d:
            write_text(path, _leading_comments(text) + yaml.safe_dump(new, sort_keys=False))
            changed.append(path)
    return changed


def _in_order(new: Any, old: Any) -> Any:
    """``new`` with the key order of ``old`` (new keys last), so a rewritten file diffs cleanly."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    keys = [k for k in old if k in new] + [k for k in new if k not in old]
    return {k: _in_order(new[k], old.get(k)) for k in keys}


def _leading_comments(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        out.append(line)
    return "".join(out)
