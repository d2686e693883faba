"""One pipeline run, shared by ``pose pipeline run`` and the Prefect flow ``train-pose``: under the
project lock, apply params overrides, make ``data/`` present, ask ``dvc status``; stop "up to date"
when nothing changed, else reproduce inside one MLflow parent run (tagged with the trigger, whether
the data changed and ``data.dvc``'s md5) and log the metrics and pipeline files to it.

How each step runs is a ``Steps`` object: the CLI's runs them directly (one streamed ``dvc
repro``); the flow's subclass runs each as a Prefect task (one task run per stage, retries on the
training stages).

``RunOptions`` is what the flow's callers may change (its parameter); ``load_schedule`` reads the
deployment's ``params/schedule.yaml``. (No ``from __future__ import annotations``: Prefect builds
the flow's parameter schema from ``RunOptions``, and deployment runs need it fully defined.)
"""

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from pose import tracking
from pose.params import DataParams, ScheduleParams, load_params, set_params
from pose.pipeline.dvc import CHOICES, METRICS, PUBLISH_RESULT, StageFailed, data_md5, dvc, pipeline_lock, status
from pose.pipeline.prepare import ensure_data


class RunOptions(BaseModel):
    """What a flow run may change before reproducing (all optional)."""

    data_source: Optional[str] = Field(None, description="params/data.yaml:source (synth, coco, dlc, ...)")
    data_path: Optional[str] = Field(None, description="params/data.yaml:path, under data/")
    pose_preset: Optional[str] = Field(None, description="params/pose.yaml:model.preset")
    detector_preset: Optional[str] = Field(None, description="params/detector.yaml:preset")
    set_params: list[str] = Field(default_factory=list, description="FILE:KEY=VALUE overrides, e.g. params/pose.yaml:train.epochs=5")
    force: bool = Field(False, description="reproduce even when DVC reports nothing changed")
    only_if_changed: bool = Field(True, description="stop with 'up to date' when nothing changed")

    def assignments(self) -> list[str]:
        """The options as ``FILE:KEY=VALUE`` params assignments (the named ones first)."""
        named = {"params/data.yaml:source": self.data_source, "params/data.yaml:path": self.data_path,
                 "params/pose.yaml:model.preset": self.pose_preset, "params/detector.yaml:preset": self.detector_preset}
        return [f"{k}={v}" for k, v in named.items() if v is not None] + list(self.set_params)


def load_schedule(root: str | Path) -> ScheduleParams:
    """``ROOT/params/schedule.yaml``: cron, timezone, training retries, only-if-changed."""
    return load_params(Path(root) / "params/schedule.yaml", ScheduleParams)


class Steps:
    """The steps of a run, done directly (``echo`` prints the data bootstrap's line)."""

    def __init__(self, echo: Callable[[str], Any] | None = None) -> None:
        self.echo = echo

    def set_params(self, root: Path, assignments: Sequence[str]) -> list[str]:
        """Write ``FILE:KEY=VALUE`` overrides into ``params/*.yaml``; the files changed, relative."""
        return [str(p.relative_to(root)) for p in set_params(root, list(assignments))]

    def ensure_data(self, root: Path) -> str:
        """Make ``data/`` present (regenerate the embedded set or ``dvc pull``)."""
        message = ensure_data(root, load_params(root / "params/data.yaml", DataParams))
        if self.echo:
            self.echo(message)
        return message

    def status(self, root: Path) -> dict[str, Any]:
        """``dvc status``: what changed."""
        return status(root)

    def repro(self, root: Path, stages: Sequence[str], force: bool) -> dict[str, str]:
        """``dvc repro [--force] [STAGES]``, its output streamed; no per-stage record ({})."""
        proc = dvc(["repro", *(["--force"] if force else []), *stages], root, capture=False)
        if proc.returncode != 0:
            raise StageFailed(f"dvc repro failed (exit {proc.returncode}); see the stage output above")
        return {}


def read_json_if(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def refresh_champions(root: Path) -> list[str]:
    """With ``train.init: champion``, remove the stage ``champion``'s choices whose champion moved
    to a version this pipeline did not publish (``pose.pipeline.champion.stale_choices``), so
    ``dvc status`` sees them and training re-runs; the kinds removed. Without a champion choice
    it reads two small files and never touches the registry."""
    if not any((read_json_if(p) or {}).get("init") == "champion" for p in (root / CHOICES).glob("*.json")):
        return []
    from pose.pipeline.champion import stale_choices

    return stale_choices(root)


def run_pipeline(root: str | Path, *, stages: Sequence[str] = (), force: bool = False, only_if_changed: bool = True,
                 assignments: Sequence[str] = (), bootstrap: bool = False, steps: Steps | None = None,
                 trigger: str = "cli", tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the pipeline once (see the module note); ``bootstrap`` makes ``data/`` present first.

    Returns ``status`` ("up to date" / "retrained"), ``up_to_date``, ``seconds``, ``waited_s`` (for
    the lock), ``data_before`` / ``data_after`` / ``data_changed`` (``data.dvc`` md5), ``changes``
    (dvc status), ``params_changed``, ``champions_moved`` (kinds whose champion choice was removed:
    ``refresh_champions``), ``stages`` (stage -> ran / skipped, when the steps tell),
    ``metrics`` and ``publish`` (the evaluate and publish results), ``mlflow`` (the parent run's
    ``run_id`` and ``experiment_id``, when one was opened). A failing stage raises
    ``StageFailed`` (the parent run ends FAILED, its metrics and files logged)."""
    root, steps, t0 = Path(root).resolve(), steps or Steps(), time.perf_counter()
    with pipeline_lock(root) as waited:
        changed = steps.set_params(root, assignments) if assignments else []
        if bootstrap:
            steps.ensure_data(root)
        moved = refresh_champions(root)
        before, pending = data_md5(root), steps.status(root)
        head = {"waited_s": round(waited, 2), "data_before": before, "changes": pending, "params_changed": changed,
                "champions_moved": moved}
        if not pending and only_if_changed and not force and not stages:
            return _result(root, head, t0, after=before, ran=None)
        with tracking.start_pipeline_run("pipeline", root=root, tags={"pose.trigger": trigger, **(tags or {})}) as parent:
            head["mlflow"] = {"run_id": parent.run_id, "experiment_id": parent.client.get_run(parent.run_id).info.experiment_id}
            try:
                ran = steps.repro(root, stages, force)
            finally:
                after = _record(parent, root, before)
    return _result(root, head, t0, after=after, ran=ran)


def _record(parent: tracking.StageRun, root: Path, before: str | None) -> str | None:
    """Log the run's metrics, data tags and pipeline files to the parent run; the md5 after."""
    after = data_md5(root)
    parent.log_metrics(read_json_if(root / METRICS) or {})
    parent.set_tags({"pose.data_changed": str(before != after).lower(), "pose.data_md5": after or "unknown"})
    parent.log_data_input("training")
    parent.log_pipeline_files()
    return after


def _result(root: Path, head: dict[str, Any], t0: float, *, after: str | None, ran: dict[str, str] | None) -> dict[str, Any]:
    return {"status": "up to date" if ran is None else "retrained", "up_to_date": ran is None,
            "seconds": round(time.perf_counter() - t0, 2), **head, "data_after": after, "data_changed": head["data_before"] != after,
            "stages": ran or {}, "metrics": read_json_if(root / METRICS) or {}, "publish": read_json_if(root / PUBLISH_RESULT)}
