"""Where the MLflow store is: ``sqlite:///<project root>/mlruns/mlflow.db``, artifacts under
``<project root>/mlruns/artifacts/<experiment>``.

The root is the ``root`` argument, else ``$POSE_PROJECT_ROOT``, else the nearest folder at or above
the current one that holds ``dvc.yaml`` (so a command run from a subfolder finds the same store),
else the current folder; ``$MLFLOW_TRACKING_URI`` (a tracking server) wins over all but the
argument. MLflow's own default (``<cwd>/mlflow.db``) is never used: it would scatter stores over
every working directory, and its plain file store is in maintenance mode in MLflow 3.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ROOT_ENV = "POSE_PROJECT_ROOT"
DEFAULT_EXPERIMENT = "posepipe"
#: The experiment tag MLflow's UI reads to choose the experiment's first page; model training
#: (``custom_model_development``) opens on the runs table, not the GenAI overview.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def project_root(root: str | Path | None = None) -> Path:
    """The project folder (see the module note for the precedence)."""
    if root or os.environ.get(ROOT_ENV):
        return Path(root or os.environ[ROOT_ENV]).resolve()
    cwd = Path.cwd().resolve()
    return next((d for d in (cwd, *cwd.parents) if (d / "dvc.yaml").is_file()), cwd)


def tracking_uri(root: str | Path | None = None) -> str:
    """The store every posepipe process uses (see the module note for the precedence)."""
    if root is None and os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    base = project_root(root) / "mlruns"
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{base / 'mlflow.db'}"


def store_exists(root: str | Path | None = None) -> bool:
    """Whether there is a store to read (without creating one): the project's sqlite file, or
    ``$MLFLOW_TRACKING_URI`` (a server, assumed reachable)."""
    if root is None and os.environ.get("MLFLOW_TRACKING_URI"):
        return True
    return (project_root(root) / "mlruns" / "mlflow.db").is_file()


def client(root: str | Path | None = None) -> Any:
    """An ``MlflowClient`` on the project store, with the fluent API pointed at it as well."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(name: str = DEFAULT_EXPERIMENT, *, root: str | Path | None = None) -> str:
    """The experiment's id, created with its artifacts under ``<root>/mlruns/artifacts/<name>`` and
    tagged as model training (``EXPERIMENT_KIND_TAG``; an older experiment gets the tag too)."""
    c = client(root)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            c.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return exp.experiment_id
    location = None
    if tracking_uri(root).startswith("sqlite:///"):
        location = str(project_root(root) / "mlruns" / "artifacts" / re.sub(r"[^\w.-]", "_", name))
    return c.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
