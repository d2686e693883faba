"""What may be logged, and under which name: secret-looking keys are dropped, metric and param
names keep only the characters MLflow accepts, nested params are flattened with dots.

Names: params are flattened with dots (``train.lr``, ``model.preset``); metric names keep the
trainer's names with every character MLflow refuses replaced by ``_`` (``PCK@0.05`` ->
``PCK_0.05``, ``loss``, ``lr``, ``AP``).

Secrets: environment variables are never logged, and a param or tag whose key contains a word
such as key, secret, token, password or credential (``api_key``, ``aws.secret``; not
``keypoints``) is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_SECRET_WORDS = {"key", "apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials", "auth"}
_BAD_CHARS = re.compile(r"[^\w.\- /]")
_MAX_PARAM = 6000


def is_secret_key(key: str) -> bool:
    """True for keys that name a secret (``AWS_SECRET_ACCESS_KEY``, ``db.password``, ``apiKey``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).lower()
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", spaced))


def metric_key(name: str) -> str:
    """A metric name MLflow accepts: refused characters become ``_`` (``PCK@0.05`` -> ``PCK_0.05``)."""
    key = _BAD_CHARS.sub("_", str(name)).strip("/") or "_"
    return re.sub(r"/+", "/", key)


def flatten(d: Mapping[str, Any], prefix: str = "", *, keep: Callable[[str], bool] = lambda key: True) -> dict[str, Any]:
    """Nested mappings -> ``{"train.lr": 0.004, ...}`` (values as they are; an empty mapping is a
    value); a key ``keep`` refuses is left out with everything below it."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if not keep(str(k)):
            continue
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{prefix}{k}.", keep=keep))
        else:
            out[f"{prefix}{k}"] = v
    return out


def flatten_params(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> ``{"train.lr": "0.004", ...}``; lists as JSON; secret-looking keys dropped."""
    flat = flatten(d, prefix, keep=lambda key: not is_secret_key(key))
    return {metric_key(k): (json.dumps(v) if isinstance(v, (list, tuple, Mapping)) else str(v))[:_MAX_PARAM] for k, v in flat.items()}


def clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags MLflow accepts, secret-looking keys dropped, values cut at 8000 characters."""
    return {metric_key(k): str(v)[:8000] for k, v in tags.items() if not is_secret_key(k)}
