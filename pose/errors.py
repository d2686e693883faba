"""User-facing errors: each names the file and the entry at fault, plus an optional hint.

The CLI prints ``str(error)`` as one line (and the hint on a second) and exits 2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class PoseError(Exception):
    """A mistake the user can fix; never a bug in posepipe."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        entry: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.entry = entry
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.entry) if p)
        text = f"{where}: {self.message}" if where else self.message
        return " ".join(text.split("\n"))


class DataError(PoseError):
    """Bad dataset content: annotations, images, meta files, converter inputs."""


class ConfigError(PoseError):
    """Bad params / config files or overrides."""


class CheckpointError(PoseError):
    """Missing, corrupt or mismatched checkpoints and published models."""


def build_by_name(kind: str, table: Mapping[str, Callable[..., T]], name: str, kw: Mapping[str, Any]) -> T:
    """``table[name](**kw)``, as codecs and losses are built from a params entry ``{name: ..., **kw}``:
    an unknown ``name``, or parameters the class refuses, is a ``ConfigError`` naming the ``kind`` entry."""
    if name not in table:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}", entry=f"{kind}.name")
    try:
        return table[name](**kw)
    except TypeError as err:
        raise ConfigError(f"bad parameters for {kind} {name!r}: {err}", entry=kind) from None


#: Packages of the ``pipeline`` extra: ``pip install posepipe`` runs data tools, training and
#: inference without them; ``posepipe[pipeline]`` adds them.
PIPELINE_PACKAGES = ("dvc", "mlflow", "prefect")
PIPELINE_HINT = 'pip install "posepipe[pipeline]" (DVC, MLflow, Prefect)'


class MissingExtra(PoseError):
    """A command needs a package of the ``pipeline`` extra that is not installed."""


def missing_extra(error: ModuleNotFoundError) -> MissingExtra | None:
    """The user-facing error for an import of a pipeline package that is not installed; None when
    ``error`` is about any other module (a real bug or a broken install: let it show)."""
    top = (error.name or "").split(".")[0]
    if top not in PIPELINE_PACKAGES:
        return None
    return MissingExtra(f"this command needs {top}, which is not installed", hint=PIPELINE_HINT)
