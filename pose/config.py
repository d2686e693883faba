"""Typed params (pydantic) for ``params/*.yaml`` and ``--set a.b=c`` dotted overrides.

Unknown keys are rejected with the nearest valid name; wrong types and out-of-range values
raise a ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pose.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SynthParams(Strict):
    """The embedded default dataset (``pose data synth``)."""

    kind: Literal["human", "quadruped"] = "human"
    images: int = Field(400, ge=1, le=1_000_000)
    seed: int = 0
    size: int = Field(320, ge=64, le=4096)
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)


class DataParams(Strict):
    """``params/data.yaml``: where the raw inputs come from and how they are split."""

    source: Literal["synth", "coco", "yolo", "dlc", "sleap", "lightning-pose", "labelme"] = "synth"
    path: str | None = Field(None, description="raw input under data/ (ignored for synth)")
    meta: str | None = Field(None, description="preset name or meta YAML path; None = from the source")
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="images held out when the source has no val split")
    split_seed: int = 0
    synth: SynthParams = SynthParams()


def _nearest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(sorted(options))}"


def _keys(model: type[BaseModel], path: list[str]) -> list[str] | None:
    """Valid keys at ``path`` inside ``model``; None inside a free-form mapping (checked later)."""
    cur: Any = model
    for p in path:
        if getattr(cur, "__origin__", None) is dict:
            return None
        field = cur.model_fields.get(p) if isinstance(cur, type) and issubclass(cur, BaseModel) else None
        if field is None:
            return []
        cur = field.annotation
    if getattr(cur, "__origin__", None) is dict:
        return None
    return list(cur.model_fields) if isinstance(cur, type) and issubclass(cur, BaseModel) else []


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
            valid = _keys(model, parts[:i])
            if valid is not None and p not in valid:
                raise ConfigError(f"unknown key '{'.'.join(parts[: i + 1])}'", entry="--set", hint=_nearest(p, valid))
            if i == len(parts) - 1:
                try:
                    cur[p] = yaml.safe_load(raw)
                except yaml.YAMLError:
                    cur[p] = raw
            else:
                nxt = cur.get(p)
                cur[p] = nxt if isinstance(nxt, dict) else {}
                cur = cur[p]
    return out


def validate_params(d: Any, model: type[M], *, source: str) -> M:
    """Build ``model`` from a dict, turning pydantic's errors into one-line ``ConfigError``s."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"expected a mapping, got {type(d).__name__}", file=source, entry="<top>")
    try:
        return model.model_validate(d)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        if first["type"] == "extra_forbidden":
            parts = [str(x) for x in first["loc"]]
            hint = _nearest(parts[-1], _keys(model, parts[:-1]) or [])
            raise ConfigError(f"unknown key '{loc}'", file=source, entry=loc, hint=hint) from None
        raise ConfigError(f"{first['msg']} (got {first.get('input')!r})", file=source, entry=loc) from None


def load_params(path: str | Path, model: type[M], overrides: list[str] | None = None) -> M:
    """Read a params YAML, apply overrides, validate."""
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


def load_run_params(config: str | Path, model: type[M], overrides: list[str] | None = None, *, seed: int | None = None,
                    deterministic: bool = False, autoscale_lr: bool = False) -> M:
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
    from pose.fileio import write_text

    path = Path(work_dir) / "params.yaml"
    write_text(path, yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))
    return path


class TrainParams(Strict):
    """Optimisation and loop settings shared by pose and detector training."""

    epochs: int = Field(30, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=4096)
    workers: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        "auto", description="data-loader processes; auto = the cores torch's threads leave free on CPU (0 on 2 cores), up to 8 on CUDA")
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = Field(4e-3, gt=0, le=10)
    weight_decay: float = Field(0.05, ge=0)
    warmup_iters: int = Field(100, ge=0)
    warmup_ratio: float = Field(0.001, gt=0, le=1)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    milestones: list[int] = Field(default_factory=list, description="epochs, for schedule=step")
    gamma: float = Field(0.1, gt=0, le=1)
    amp: Literal["none", "fp16", "bf16", "auto"] = Field(
        "none", description="auto = bf16 where the hardware has it natively (CUDA sm80+, CPUs with AVX512-BF16/AMX), else none")
    ema: bool = True
    ema_decay: float = Field(0.999, gt=0, lt=1)
    clip_grad: float | None = Field(None, gt=0)
    val_interval: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)
    deterministic: bool = False
    autoscale_lr: bool = False
    base_batch_size: int = Field(32, ge=1, description="batch size that lr is tuned for (autoscale_lr)")
    channels_last: bool = Field(True, description="NHWC weights and activations: rtmpose-t trains 1.3x faster on CPU")


class PoseModelParams(Strict):
    preset: str = "rtmpose-t"
    input_size: tuple[int, int] | None = Field(None, description="(w, h); None = the preset's")


class PoseTestParams(Strict):
    flip: bool = True
    batch_size: int = Field(64, ge=1)


class PoseParams(Strict):
    """``params/pose.yaml``: top-down pose training and testing."""

    dataset: str = "data/synth"
    meta: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    model: PoseModelParams = PoseModelParams()
    train: TrainParams = TrainParams()
    aug: dict[str, Any] = Field(default_factory=dict, description="overrides of pose.data.transforms.AugConfig")
    test: PoseTestParams = PoseTestParams()
