"""``--set a.b=c`` dotted overrides (values parsed as YAML), checked against a schema's keys."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from pose.errors import ConfigError
from pose.params.base import keys_at, nearest


def apply_overrides(d: dict[str, Any], overrides: list[str], model: type[BaseModel]) -> dict[str, Any]:
    """Apply ``a.b=c`` strings (values parsed as YAML) to a nested dict, checking keys exist."""
    out = yaml.safe_load(yaml.safe_dump(d)) or {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not KEY=VALUE", entry="--set", hint="e.g. --set synth.images=100")
        parts = key.strip().split(".")
        cur = out
        for i, p in enumerate(parts):
            valid = keys_at(model, parts[:i])
            if valid is not None and p not in valid:
                raise ConfigError(f"unknown key '{'.'.join(parts[: i + 1])}'", entry="--set", hint=nearest(p, valid))
            if i == len(parts) - 1:
                cur[p] = _value(raw)
            else:
                nxt = cur.get(p)
                cur[p] = nxt if isinstance(nxt, dict) else {}
                cur = cur[p]
    return out


def _value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def parse_assignment(item: str) -> tuple[str, str]:
    """``params/pose.yaml:train.epochs=1`` -> (``params/pose.yaml``, ``train.epochs=1``)."""
    file, sep, rest = item.partition(":")
    if not sep or "=" not in rest or not file.endswith(".yaml"):
        raise ConfigError(f"'{item}' is not FILE:KEY=VALUE", entry="--set", hint="e.g. params/pose.yaml:train.epochs=1")
    return file, rest
