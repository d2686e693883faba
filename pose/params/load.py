"""Reading params: a YAML file, ``--set`` overrides and the CLI's ``train.*`` flags, validated into
a schema; pydantic's errors become one-line ``ConfigError``s naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar, overload

import yaml
from pydantic import BaseModel, ValidationError

from pose.errors import ConfigError
from pose.fileio import write_text
from pose.params.base import keys_at, nearest
from pose.params.overrides import apply_overrides
from pose.params.schemas import schema

M = TypeVar("M", bound=BaseModel)

#: pydantic error types that mean "no such key" (models forbid extras; dataclasses refuse keywords).
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


def validate_params(d: Any, model: type[M], *, source: str) -> M:
    """Build ``model`` from a dict, turning pydantic's errors into one-line ``ConfigError``s."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"expected a mapping, got {type(d).__name__}", file=source, entry="<top>")
    try:
        return model.model_validate(d)
    except ConfigError as e:  # a section's own check (e.g. aug's ranges) names the entry, not the file
        raise ConfigError(e.message, file=e.file or source, entry=e.entry, hint=e.hint) from None
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        if first["type"] in _UNKNOWN:
            parts = [str(x) for x in first["loc"]]
            hint = nearest(parts[-1], keys_at(model, parts[:-1]) or [])
            raise ConfigError(f"unknown key '{loc}'", file=source, entry=loc, hint=hint) from None
        raise ConfigError(f"{first['msg']} (got {first.get('input')!r})", file=source, entry=loc) from None


@overload
def load_params(path: str | Path, model: type[M], overrides: list[str] | None = None) -> M: ...
@overload
def load_params(path: str | Path, model: str, overrides: list[str] | None = None) -> Any: ...


def load_params(path: str | Path, model: type[Any] | str, overrides: list[str] | None = None) -> Any:
    """Read a params YAML, apply ``a.b=c`` overrides, validate; ``model`` is a schema or a params
    kind (``"pose"``, ``"detector"``, ... the stem of its ``params/*.yaml``)."""
    model = schema(model) if isinstance(model, str) else model
    path = Path(path)
    if not path.is_file():
        raise ConfigError("params file not found", file=path)
    try:
        d = yaml.safe_load(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid YAML ({' '.join(str(e).split())[:160]})", file=path) from None
    if overrides:
        d = apply_overrides(d if isinstance(d, dict) else {}, overrides, model)
    return validate_params(d, model, source=str(path))


@overload
def load_run_params(config: str | Path, model: type[M], overrides: list[str] | None = None, *, seed: int | None = None,
                    deterministic: bool = False, autoscale_lr: bool = False) -> M: ...
@overload
def load_run_params(config: str | Path, model: str, overrides: list[str] | None = None, *, seed: int | None = None,
                    deterministic: bool = False, autoscale_lr: bool = False) -> Any: ...


def load_run_params(config: str | Path, model: type[Any] | str, overrides: list[str] | None = None, *, seed: int | None = None,
                    deterministic: bool = False, autoscale_lr: bool = False) -> Any:
    """Params of a training run: the YAML, ``--set`` overrides and the CLI flags that map onto ``train.*``."""
    extra = list(overrides or [])
    if seed is not None:
        extra.append(f"train.seed={seed}")
    if deterministic:
        extra.append("train.deterministic=true")
    if autoscale_lr:
        extra.append("train.autoscale_lr=true")
    return load_params(config, model, extra)


def record_params(work_dir: str | Path, params: BaseModel) -> Path:
    """Write the resolved params as ``work_dir/params.yaml`` beside the checkpoints; called once the
    run's data and model are built, so a params error leaves the work dir untouched."""
    path = Path(work_dir) / "params.yaml"
    write_text(path, yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))
    return path
