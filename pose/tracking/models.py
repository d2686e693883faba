"""Logged models and the registry's low level: a pyfunc model from code, a new registered version,
and the local folder of a model's files."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pose.tracking.names import clean_tags
from pose.tracking.runs import StageRun


def log_code_model(run: StageRun, name: str, code: str, *, artifacts: Mapping[str, str | Path], input_example: Any,
                   output_example: Any, pip_requirements: list[str] | None = None, signature: Any = None,
                   metrics: Mapping[str, Any] | None = None, code_paths: list[str | Path] | None = None) -> str:
    """Log a pyfunc LoggedModel defined by ``code`` ("models from code": plain source, no pickle)
    with ``artifacts`` copied in; returns its ``models:/m-<id>`` URI once every file is stored.
    The signature is inferred from the examples unless given (e.g. to leave image sizes free);
    ``metrics`` are attached to the logged model (its page in the UI), not only to the run;
    ``code_paths`` (folders of packages the code imports) travel inside the model."""
    import mlflow
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pose_pyfunc.py"
        script.write_text(code, "utf-8")
        with mlflow.start_run(run_id=run.run_id, nested=mlflow.active_run() is not None):
            info = mlflow.pyfunc.log_model(name=name, python_model=str(script), artifacts={k: str(v) for k, v in artifacts.items()},
                                           signature=signature or infer_signature(input_example, output_example), input_example=input_example,
                                           pip_requirements=pip_requirements or [], code_paths=[str(p) for p in code_paths or []] or None)
    if metrics:
        run.log_metrics(metrics, model_id=info.model_id)
    return info.model_uri


def pinned(distributions: list[str]) -> list[str]:
    """``name==version`` of each installed distribution (the versions of this environment)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in distributions]


def register_version(c: Any, model_uri: str, name: str, *, run_id: str, tags: Mapping[str, Any]) -> str:
    """A new version of registered model ``name`` from ``model_uri``; returns the version."""
    if not c.search_registered_models(filter_string=f"name = '{name}'"):
        c.create_registered_model(name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    mv = c.create_model_version(name, model_uri, run_id=run_id, tags=clean_tags(tags), model_id=model_id)
    return str(mv.version)


def local_artifacts(uri: str) -> Path:
    """The local folder holding ``uri``'s files (``models:/name@alias``, ``models:/m-<id>``)."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))


def registered_name(dataset: str, kind: str = "pose") -> str:
    """``<dataset>-<kind>`` (``-pose``, ``-detector``), with characters a registered-model name should not hold replaced."""
    return re.sub(r"[^\w.-]", "_", dataset) + f"-{kind}"


def model_aliases(c: Any, name: str) -> dict[str, str]:
    """Alias -> version of registered model ``name`` (empty when it does not exist)."""
    found = c.search_registered_models(filter_string=f"name = '{name}'")
    return {a: str(v) for a, v in (found[0].aliases if found else {}).items()}


def alias_files(c: Any, name: str, alias: str) -> tuple[str, Path] | None:
    """(version, local folder of its files) of ``name@alias``; None when the alias is not set."""
    version = model_aliases(c, name).get(alias)
    return None if version is None else (version, local_artifacts(f"models:/{name}@{alias}"))
