"""Experiment tracking with MLflow: the only module that imports ``mlflow`` (lazily, ~1 s).

Store: ``sqlite:///<project root>/mlruns/mlflow.db``, artifacts under
``<project root>/mlruns/artifacts/<experiment>``. The root is the ``root`` argument, else
``$POSE_PROJECT_ROOT``, else the nearest folder at or above the current one that holds
``dvc.yaml`` (so a command run from a subfolder finds the same store), else the current folder;
``$MLFLOW_TRACKING_URI`` (a tracking server) wins over all but the argument. MLflow's own default
(``<cwd>/mlflow.db``) is never used: it would scatter stores over every working directory, and
its plain file store is in maintenance mode in MLflow 3.

Runs: one parent run per pipeline run (``start_pipeline_run``), which exports its id in
``$POSE_MLFLOW_PARENT_RUN`` so each ``dvc repro`` stage process opens a child run under it
(``stage_run``). Every run carries lineage tags: ``pose.git_commit``, ``pose.git_dirty``,
``pose.data_hash`` (from ``dvc.lock``), ``pose.params_hash``, plus ``pose.dataset`` and
``pose.preset`` once training starts.

Names: params are flattened with dots (``train.lr``, ``model.preset``); metric names keep
the trainer's names with every character MLflow refuses replaced by ``_``
(``PCK@0.05`` -> ``PCK_0.05``, ``loss``, ``lr``, ``AP``); epochs are the ``step``.

Secrets: environment variables are never logged, and a param or tag whose key contains a
word such as key, secret, token, password or credential (``api_key``, ``aws.secret``; not
``keypoints``) is dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PARENT_ENV = "POSE_MLFLOW_PARENT_RUN"
ROOT_ENV = "POSE_PROJECT_ROOT"
DEFAULT_EXPERIMENT = "posepipe"
_SECRET_WORDS = {"key", "apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials", "auth"}
_BAD_CHARS = re.compile(r"[^\w.\- /]")
_MAX_PARAM = 6000


def project_root(root: str | Path | None = None) -> Path:
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


def _local(uri: str) -> bool:
    return uri.startswith("sqlite:///")


def client(root: str | Path | None = None) -> Any:
    """An ``MlflowClient`` on the project store, with the fluent API pointed at it as well."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(name: str = DEFAULT_EXPERIMENT, *, root: str | Path | None = None) -> str:
    """The experiment's id, created with its artifacts under ``<root>/mlruns/artifacts/<name>``."""
    c = client(root)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if _local(tracking_uri(root)):
        location = str(project_root(root) / "mlruns" / "artifacts" / re.sub(r"[^\w.-]", "_", name))
    return c.create_experiment(name, artifact_location=location)


# ------------------------------------------------------------------------------ names and values


def is_secret_key(key: str) -> bool:
    """True for keys that name a secret (``AWS_SECRET_ACCESS_KEY``, ``db.password``, ``apiKey``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key).lower()
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", spaced))


def metric_key(name: str) -> str:
    """A metric name MLflow accepts: refused characters become ``_`` (``PCK@0.05`` -> ``PCK_0.05``)."""
    key = _BAD_CHARS.sub("_", str(name)).strip("/") or "_"
    return re.sub(r"/+", "/", key)


def flatten_params(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> ``{"train.lr": "0.004", ...}``; lists as JSON; secret-looking keys dropped."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if is_secret_key(str(k)):
            continue
        if isinstance(v, Mapping) and v:
            out.update(flatten_params(v, f"{key}."))
        else:
            text = json.dumps(v) if isinstance(v, (list, tuple, Mapping)) else str(v)
            out[metric_key(key)] = text[:_MAX_PARAM]
    return out


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _git(root: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def data_hash(root: str | Path | None = None) -> str | None:
    """The md5 DVC recorded for ``data/`` (``dvc.lock`` deps, else ``data.dvc``); None when unknown."""
    base = project_root(root)
    found: set[tuple[str, str]] = set()
    try:
        lock = yaml.safe_load((base / "dvc.lock").read_text("utf-8")) if (base / "dvc.lock").is_file() else None
        for stage in ((lock or {}).get("stages") or {}).values():
            for dep in stage.get("deps") or []:
                path = str(dep.get("path", ""))
                if (path == "data" or path.startswith("data/")) and dep.get("md5"):
                    found.add((path, str(dep["md5"])))
        if not found and (base / "data.dvc").is_file():
            for out in (yaml.safe_load((base / "data.dvc").read_text("utf-8")) or {}).get("outs") or []:
                if out.get("md5"):
                    found.add((str(out.get("path", "data")), str(out["md5"])))
    except (yaml.YAMLError, OSError, AttributeError):
        return None
    if len(found) == 1:
        return next(iter(found))[1]
    return hashlib.sha256("".join(f"{p}:{m}\n" for p, m in sorted(found)).encode()).hexdigest()[:32] if found else None


def params_hash(root: str | Path | None = None, params: Mapping[str, Any] | None = None) -> str:
    """Hash of ``params`` when given, else of the project's ``params/*.yaml`` files."""
    if params is not None:
        return _hash(params)
    files = sorted((project_root(root) / "params").glob("*.yaml"))
    return _hash({f.name: f.read_text("utf-8") for f in files})


def lineage_tags(root: str | Path | None = None, *, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Git commit (and whether the tree is dirty), data hash and params hash, as run/version tags."""
    base = project_root(root)
    commit = _git(base, "rev-parse", "HEAD") or "unknown"
    dirty = _git(base, "status", "--porcelain", "--untracked-files=no")
    tags = {"pose.git_commit": commit, "pose.git_dirty": "unknown" if dirty is None else str(bool(dirty)).lower(),
            "pose.data_hash": data_hash(base) or "unknown", "pose.params_hash": params_hash(base, params)}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


def _clean_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {metric_key(k): str(v)[:8000] for k, v in tags.items() if not is_secret_key(k)}


# ------------------------------------------------------------------------------ runs


@dataclass
class StageRun:
    """An open MLflow run: log params, metrics, tags and artifacts to it; ``callback()`` for ``fit``."""

    run_id: str
    client: Any
    root: Path

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten_params(params)
        if flat:
            self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in flat.items()])

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [Metric(metric_key(k), float(v), now, step or 0) for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch" and math.isfinite(float(v))]
        if rows:
            self.client.log_batch(self.run_id, metrics=rows)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        clean = _clean_tags(tags)
        if clean:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in clean.items()])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def callback(self) -> MlflowCallback:
        return MlflowCallback(self)

    def log_pipeline_files(self) -> None:
        """The params files, ``dvc.yaml`` and ``dvc.lock`` of the project, under ``pipeline/``:
        what exactly produced the run's outputs, readable from the run alone. ``dvc.yaml`` is
        stored as ``dvc-pipeline.yaml``: a file named ``dvc.yaml`` anywhere in the workspace
        (the store may live inside it) would be taken by DVC for a pipeline of its own."""
        import shutil
        import tempfile

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
            warnings.warn(f"{PARENT_ENV}={parent} is not a run in {tracking_uri(root)}; logging a top-level run", stacklevel=3)
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
    """The parent run of one pipeline run; its id is in ``$POSE_MLFLOW_PARENT_RUN`` meanwhile,
    so stage processes started inside (``dvc repro``) nest under it."""
    run = _open_run(name, root=root, experiment=experiment, parent=None, tags=tags, params=None)
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


class MlflowCallback:
    """The engine's ``Callback``: params and system info at start, metrics per epoch
    (``step=epoch``), checkpoint paths as tags, the best metric at the end.

    A tracking failure warns once and never stops training.
    """

    def __init__(self, run: StageRun) -> None:
        self.run = run
        self._warned = False

    def _try(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:  # MlflowException, sqlite and file errors alike
            if not self._warned:
                warnings.warn(f"MLflow logging failed, training goes on: {' '.join(str(e).split())[:200]}", stacklevel=3)
                self._warned = True

    def on_train_start(self, info: dict[str, Any]) -> None:
        cfg = info.get("config") or {}
        system = {f"sys.{k}": v for k, v in info.items() if k != "config"}
        tags = {**system, "pose.preset": cfg.get("preset", "unknown"),
                "pose.dataset": (cfg.get("meta") or {}).get("name", "unknown")}
        if cfg.get("params") is not None:
            tags["pose.params_hash"] = params_hash(params=cfg["params"])
        self._try(self.run.set_tags, tags)
        resolved = {f"resolved.{k}": cfg[k] for k in ("input_size", "num_keypoints") if k in cfg}
        self._try(self.run.log_params, {**(cfg.get("params") or {}), **resolved})

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self._try(self.run.log_metrics, metrics, epoch)

    def on_checkpoint(self, path: Path, kind: str) -> None:
        self._try(self.run.set_tags, {f"pose.{kind}_checkpoint": str(Path(path).resolve())})

    def on_train_end(self, summary: dict[str, Any]) -> None:
        name, best = summary.get("best_metric", "best"), summary.get("best")
        if best is not None:
            self._try(self.run.log_metrics, {f"best_{name}": best}, int(summary.get("epochs") or 0))


# ------------------------------------------------------------------------------ logged models


def log_code_model(run: StageRun, name: str, code: str, *, artifacts: Mapping[str, str | Path], input_example: Any,
                   output_example: Any, pip_requirements: list[str] | None = None, signature: Any = None) -> str:
    """Log a pyfunc LoggedModel defined by ``code`` ("models from code": plain source, no pickle)
    with ``artifacts`` copied in; returns its ``models:/m-<id>`` URI once every file is stored.
    The signature is inferred from the examples unless given (e.g. to leave image sizes free)."""
    import tempfile

    import mlflow
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pose_pyfunc.py"
        script.write_text(code, "utf-8")
        with mlflow.start_run(run_id=run.run_id, nested=mlflow.active_run() is not None):
            info = mlflow.pyfunc.log_model(name=name, python_model=str(script), artifacts={k: str(v) for k, v in artifacts.items()},
                                           signature=signature or infer_signature(input_example, output_example), input_example=input_example,
                                           pip_requirements=pip_requirements or [])
    return info.model_uri


def register_version(c: Any, model_uri: str, name: str, *, run_id: str, tags: Mapping[str, Any]) -> str:
    """A new version of registered model ``name`` from ``model_uri``; returns the version."""
    if not c.search_registered_models(filter_string=f"name = '{name}'"):
        c.create_registered_model(name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    mv = c.create_model_version(name, model_uri, run_id=run_id, tags=_clean_tags(tags), model_id=model_id)
    return str(mv.version)


def local_artifacts(uri: str) -> Path:
    """The local folder holding ``uri``'s files (``models:/name@alias``, ``models:/m-<id>``)."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
