from __future__ import annotations

import pytest

from pose.pipeline.track import tracked


def test_tracked_disabled_or_non_zero_rank_logs_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("POSE_PROJECT_ROOT", str(tmp_path))
    with tracked("train_pose", False) as cbs:
        assert cbs == []
    monkeypatch.setenv("RANK", "1")
    with tracked("train_pose", True) as cbs:
        assert cbs == []
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_tracked_opens_a_child_of_the_parent_run(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from pose import tracking

    monkeypatch.setenv("POSE_PROJECT_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with tracking.start_pipeline_run("pipeline", root=tmp_path) as parent, tracked("train_pose", True) as cbs:
        assert len(cbs) == 1
        cbs[0].on_epoch_end(1, {"loss": 2.5})
        child = cbs[0].run.run_id
    run = tracking.client(tmp_path).get_run(child)
    assert run.data.tags["mlflow.parentRunId"] == parent.run_id and run.data.metrics["loss"] == 2.5
