"""Run lifecycle: one parent run per pipeline run (``start_pipeline_run``), which exports its id in
``$POSE_MLFLOW_PARENT_RUN`` so each ``dvc repro`` stage process opens a child run under it
(``stage_run``; ``tracked`` when opt-in). Every run carries the lineage tags (``pose.git_commit``,
``pose.git_dirty``, ``pose.data_hash``, ``pose.params_hash``); a run ends FINISHED, FAILED
(an exception) or KILLED (Ctrl-C)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose.tracking.lineage import data_hash, lineage_tags
from pose.tracking.names import clean_tags, flatten_params, metric_key
from pose.tracking.store import DEFAULT_EXPERIMENT, client, experiment_id, project_root, tracking_uri

log = logging.getLogger(__name__)

PARENT_ENV = "POSE_MLFLOW_PARENT_RUN"


@dataclass
class StageRun:
    """An open MLflow run: log params, metrics, tags and artifacts to it."""

    run_id: str
    client: Any
    root: Path

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten_params(params)
        if flat:
            self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in flat.items()])

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None, model_id: str | None = None) -> None:
        """Numeric, finite metrics (``epoch`` left out); attached to logged model ``model_id`` too when given."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(metric_key(k), float(v), now, step or 0, model_id=model_id) for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch" and math.isfinite(float(v))]
        if rows:
            self.client.log_batch(self.run_id, metrics=rows)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        clean = clean_tags(tags)
        if clean:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in clean.items()])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_data_input(self, context: str = "training") -> None:
        """The project's ``data/`` as the run's dataset input, its digest the md5 DVC records for it
        (``data.dvc`` / ``dvc.lock``): the UI's dataset column shows what each run trained on."""
        from mlflow.data.dataset_source_registry import get_dataset_source_from_json
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        digest = data_hash(self.root)
        if digest is None:
            return
        dataset = MetaDataset(get_dataset_source_from_json(json.dumps({"uri": str(self.root / "data")}), "local"), name="data", digest=digest)
        self.client.log_inputs(self.run_id, [DatasetInput(dataset._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, context)])])

    def log_params_files(self) -> None:
        """Every ``params/*.yaml`` of the project as params prefixed by its file (``pose.model.preset``,
        ``pose.train.lr``, ``detector.preset``): two pipeline runs compare param by param."""
        import yaml

        for f in sorted((self.root / "params").glob("*.yaml")):
            data = yaml.safe_load(f.read_text("utf-8"))
            if isinstance(data, Mapping) and data:
                self.log_params({f.stem: data})

    def log_pipeline_files(self) -> None:
        """The params files, ``dvc.yaml`` and ``dvc.lock`` of the project, under ``pipeline/``:
        what exactly produced the run's outputs, readable from the run alone. ``dvc.yaml`` is
        stored as ``dvc-pipeline.yaml``: a file named ``dvc.yaml`` anywhere in the workspace
        (the store may live inside it) would be taken by DVC for a pipeline of its own."""
        for f in sorted((self.root / "params").glob("*.yaml")):
            self.log_artifact(f, "pipeline/params")
        if (self.root / "dvc.lock").is_file():
            self.log_artifact(self.root / "dvc.lock", "pipeline")
        if (self.root / "dvc.yaml").is_file():
            with tempfile.TemporaryDirectory() as tmp:
                self.log_artifact(shutil.copyfile(self.root / "dvc.yaml", Path(tmp) / "dvc-pipeline.yaml"), "pipeline")


def _open_run(name: str, *, root: str | Path | None, experiment: str, parent: str | None,
              tags: Mapping[str, Any] | None, params: Mapping[str, Any] | None) -> StageRun:
    c = client(root)
    exp_id = experiment_id(experiment, root=root)
    base_tags = {"pose.stage": name}
    if parent:
        try:
            exp_id = c.get_run(parent).info.experiment_id
            base_tags["mlflow.parentRunId"] = parent
        except Exception:  # a stale id from another store or a deleted run: log a top-level run
            log.warning("%s=%s is not a run in %s; logging a top-level run", PARENT_ENV, parent, tracking_uri(root))
            base_tags["pose.parent_missing"] = parent
    run = StageRun(c.create_run(exp_id, run_name=name).info.run_id, c, project_root(root))
    run.set_tags({**base_tags, **lineage_tags(root, params=params), **dict(tags or {})})
    if params:
        run.log_params(params)
    return run


@contextlib.contextmanager
def _finishing(run: StageRun) -> Iterator[StageRun]:
    try:
        yield run
    except KeyboardInterrupt:
        run.client.set_terminated(run.run_id, "KILLED")
        raise
    except BaseException:
        run.client.set_terminated(run.run_id, "FAILED")
        raise
    run.client.set_terminated(run.run_id, "FINISHED")


@contextlib.contextmanager
def start_pipeline_run(name: str = "pipeline", *, root: str | Path | None = None, experiment: str = DEFAULT_EXPERIMENT,
                       tags: Mapping[str, Any] | None = None) -> Iterator[StageRun]:
    """The parent run of one pipeline run (every params file logged as params, ``StageRun.log_params_files``); its id is in ``$POSE_MLFLOW_PARENT_RUN`` meanwhile,
    so stage processes started inside (``dvc repro``) nest under it."""
    run = _open_run(name, root=root, experiment=experiment, parent=None, tags=tags, params=None)
    run.log_params_files()
    old = os.environ.get(PARENT_ENV)
    os.environ[PARENT_ENV] = run.run_id
    try:
        with _finishing(run):
            yield run
    finally:
        if old is None:
            os.environ.pop(PARENT_ENV, None)
        else:
            os.environ[PARENT_ENV] = old


@contextlib.contextmanager
def stage_run(name: str, *, root: str | Path | None = None, experiment: str = DEFAULT_EXPERIMENT,
              params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> Iterator[StageRun]:
    """A run for one stage: a child of ``$POSE_MLFLOW_PARENT_RUN`` when set, else top-level."""
    run = _open_run(name, root=root, experiment=experiment, parent=os.environ.get(PARENT_ENV) or None, tags=tags, params=params)
    with _finishing(run):
        yield run


@contextlib.contextmanager
def system_metrics(run: StageRun) -> Iterator[StageRun]:
    """MLflow's system metrics (``system/cpu_utilization_percentage``, ``system/system_memory_usage_megabytes``,
    GPU when present; psutil) sampled on ``run`` meanwhile, every
    ``$MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` s (10 by default), quietly."""
    import logging

    from mlflow.environment_variables import MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    monitor = SystemMetricsMonitor(run.run_id, sampling_interval=MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL.get() or 10,
                                   tracking_uri=tracking_uri(run.root))
    monitor.start()
    try:
        yield run
    finally:
        monitor.finish()


@contextlib.contextmanager
def tracked(stage: str, enabled: bool, *, with_system_metrics: bool = False) -> Iterator[StageRun | None]:
    """Opt-in ``stage_run`` for a command (``--track``): yields the run, or None when disabled or on
    a non-zero DDP rank (only rank 0 logs); ``with_system_metrics`` samples CPU/memory on it (training)."""
    if not enabled or os.environ.get("RANK", "0") != "0":
        yield None
        return
    with stage_run(stage) as run, (system_metrics(run) if with_system_metrics else contextlib.nullcontext(run)):
        yield run
