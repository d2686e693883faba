"""Typed ``params/eval.yaml``, ``params/publish.yaml`` and ``params/schedule.yaml``.

Editing a params file from code (``set_params``) validates the result against the file's schema
before writing, so a flow or test override can never leave a file the stages refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from pose.config import DataParams, PoseParams, Strict, apply_overrides, validate_params
from pose.errors import ConfigError
from pose.fileio import write_text


class EvalParams(Strict):
    """``params/eval.yaml``: what the evaluate stage measures."""

    split: str = "val"
    flip: bool = True
    pck_thresholds: list[float] = Field(default_factory=lambda: [0.05, 0.1], description="headline PCK@a keys in metrics.json")
    curve_max: float = Field(0.5, gt=0, le=2, description="PCK-vs-threshold curve from 0 to this (bbox-normalised)")
    curve_points: int = Field(50, ge=2, le=1000)
    det_score_thr: float = Field(0.3, ge=0, le=1, description="detector boxes below this score are not cropped")
    batch_size: int = Field(64, ge=1)
    examples: int = Field(4, ge=0, le=100, description="GT-vs-prediction PNGs (detector boxes) of the first N images of the split")


class PublishParams(Strict):
    """``params/publish.yaml``: publishing and the champion gate."""

    name: str | None = Field(None, description="registered model name; None = <dataset>-pose")
    registry: bool = True
    onnx: bool = True
    min_gain: float = Field(0.0, ge=0, description="AP a challenger must gain over the champion to be promoted")


class ScheduleParams(Strict):
    """``params/schedule.yaml``: the Prefect deployment."""

    cron: str = "0 3 * * 1"
    timezone: str = "UTC"
    retries: int = Field(2, ge=0, le=10, description="retries of the training stages")
    retry_delay_s: list[float] = Field(default_factory=lambda: [30.0, 120.0], description="back-off between retries")
    only_if_changed: bool = Field(True, description="scheduled runs stop when DVC reports nothing changed")


def _detector_params() -> type[BaseModel]:
    from pose.detection.params import DetectorParams

    return DetectorParams


#: params file name -> its schema (what ``set_params`` validates against).
SCHEMAS: dict[str, Any] = {
    "data.yaml": lambda: DataParams,
    "pose.yaml": lambda: PoseParams,
    "detector.yaml": _detector_params,
    "eval.yaml": lambda: EvalParams,
    "publish.yaml": lambda: PublishParams,
    "schedule.yaml": lambda: ScheduleParams,
}


def parse_assignment(item: str) -> tuple[str, str]:
    """``params/pose.yaml:train.epochs=1`` -> (``params/pose.yaml``, ``train.epochs=1``)."""
    file, sep, rest = item.partition(":")
    if not sep or "=" not in rest or not file.endswith(".yaml"):
        raise ConfigError(f"'{item}' is not FILE:KEY=VALUE", entry="--set", hint="e.g. params/pose.yaml:train.epochs=1")
    return file, rest


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
        new = _in_order(apply_overrides(d, overrides, schema()), d)
        validate_params(new, schema(), source=str(path))
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
