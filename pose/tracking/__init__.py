"""Experiment tracking with MLflow: the only package that imports ``mlflow`` (lazily, ~1 s) besides
the registry leaf of ``pose.publish``. One module per concern:

- ``store``: where the store is (``sqlite:///<project root>/mlruns/mlflow.db``), the client;
- ``names``: secret filtering, metric/param names, flattened params;
- ``lineage``: git commit, data hash (``dvc.lock``), params hash as tags;
- ``runs``: the parent run of a pipeline run, a child run per stage, opt-in ``tracked``;
- ``callback``: the engine's ``MlflowCallback`` (metrics per epoch);
- ``models``: logged pyfunc models, registered versions, downloaded artifacts.

Callers use the names below: ``from pose import tracking; tracking.stage_run(...)``.
"""

from pose.tracking.callback import MlflowCallback, callbacks
from pose.tracking.lineage import data_hash, lineage_tags, params_hash
from pose.tracking.models import alias_files, local_artifacts, log_code_model, model_aliases, pinned, register_version, registered_name
from pose.tracking.names import clean_tags, flatten, flatten_params, is_secret_key, metric_key
from pose.tracking.runs import PARENT_ENV, StageRun, stage_run, start_pipeline_run, tracked
from pose.tracking.store import DEFAULT_EXPERIMENT, ROOT_ENV, client, experiment_id, project_root, store_exists, tracking_uri

__all__ = [
    "DEFAULT_EXPERIMENT", "PARENT_ENV", "ROOT_ENV", "MlflowCallback", "StageRun", "alias_files", "callbacks", "clean_tags", "client",
    "data_hash", "experiment_id", "flatten", "flatten_params", "is_secret_key", "lineage_tags", "local_artifacts",
    "log_code_model", "metric_key", "model_aliases", "pinned", "params_hash", "project_root", "register_version", "registered_name", "stage_run", "store_exists", "start_pipeline_run",
    "tracked", "tracking_uri",
]
