from __future__ import annotations

from pathlib import Path

import pytest

from pose import tracking


def test_tracked_disabled_or_non_zero_rank_logs_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSE_PROJECT_ROOT", str(tmp_path))
    with tracking.tracked("train_pose", False) as run:
        assert run is None and tracking.callbacks(run) == []
    monkeypatch.setenv("RANK", "1")
    with tracking.tracked("train_pose", True) as run:
        assert run is None
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_tracked_opens_a_child_of_the_parent_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSE_PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv("RANK", raising=False)
    with tracking.start_pipeline_run("pipeline", root=tmp_path) as parent, tracking.tracked("train_pose", True) as run:
        cbs = tracking.callbacks(run)
        assert len(cbs) == 1
        cbs[0].on_epoch_end(1, {"loss": 2.5})
        child = run.run_id
    got = tracking.client(tmp_path).get_run(child)
    assert got.data.tags["mlflow.parentRunId"] == parent.run_id and got.data.metrics["loss"] == 2.5
