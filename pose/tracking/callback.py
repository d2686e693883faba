"""The engine's MLflow ``Callback``: what a training run logs, epoch by epoch."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pose.recipes.init import init_summary
from pose.tracking.lineage import params_hash
from pose.tracking.runs import StageRun

log = logging.getLogger(__name__)


class MlflowCallback:
    """Params, system info and the data (a dataset input, digest = DVC's md5) at start, metrics per epoch (``step=epoch``), checkpoint paths as
    tags, the best metric at the end.

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
                log.warning("MLflow logging failed, training goes on: %s", " ".join(str(e).split())[:200])
                self._warned = True

    def on_train_start(self, info: dict[str, Any]) -> None:
        cfg = info.get("config") or {}
        system = {f"sys.{k}": v for k, v in info.items() if k != "config"}
        tags = {**system, "pose.preset": cfg.get("preset", "unknown"),
                "pose.dataset": (cfg.get("meta") or {}).get("name", "unknown")}
        if cfg.get("params") is not None:
            tags["pose.params_hash"] = params_hash(params=cfg["params"])
        tags.update({f"pose.{k}": v for k, v in init_summary(cfg).items()})
        self._try(self.run.set_tags, tags)
        self._try(self.run.log_data_input, "training")
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


def callbacks(run: StageRun | None) -> list[MlflowCallback]:
    """The trainer callbacks for ``run`` (from ``tracked``): none when it is None."""
    return [MlflowCallback(run)] if run is not None else []
