"""Opt-in MLflow tracking for a training command: a stage run (a child of the pipeline's parent
run when ``$POSE_MLFLOW_PARENT_RUN`` is set) whose ``MlflowCallback`` the trainer calls."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def tracked(stage: str, enabled: bool) -> Iterator[list[Any]]:
    """Yield the trainer callbacks for ``stage``: none when disabled or on a non-zero DDP rank."""
    if not enabled or os.environ.get("RANK", "0") != "0":
        yield []
        return
    from pose import tracking

    with tracking.stage_run(stage) as run:
        yield [run.callback()]
