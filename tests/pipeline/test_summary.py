from __future__ import annotations

from pose.pipeline.summary import summary_markdown


def test_summary_markdown_reports_metrics_and_decision() -> None:
    md = summary_markdown({"status": "retrained", "up_to_date": False, "data_before": "a", "data_after": "b", "seconds": 1.5,
                           "stages": {"train_pose": "ran"}, "metrics": {"AP": 0.71234},
                           "publish": {"decision": {"name": "coco-pose", "version": "3", "verdict": "rejected", "reason": "delta -0.01"}}})
    assert "# train-pose: retrained" in md and "| AP | 0.7123 |" in md and "| verdict | rejected |" in md and "| train_pose | ran |" in md


def test_up_to_date_summary_shows_hashes_only() -> None:
    md = summary_markdown({"status": "up to date", "up_to_date": True, "data_before": "a", "data_after": "a", "seconds": 0.4,
                           "stages": {}, "metrics": {"AP": 0.5}, "changes": {}, "publish": {"decision": {"verdict": "promoted"}}})
    assert "# train-pose: up to date" in md and "| data md5 after | a |" in md
    assert "Metrics" not in md and "Registry" not in md and "Changes" not in md


def test_summary_links_the_mlflow_parent_run(monkeypatch) -> None:
    monkeypatch.setenv("POSE_MLFLOW_UI", "http://127.0.0.1:5123/")
    md = summary_markdown({"status": "retrained", "up_to_date": False, "data_before": "a", "data_after": "a", "seconds": 2.0,
                           "stages": {}, "metrics": {}, "mlflow": {"run_id": "abc123", "experiment_id": "7"}})
    assert "| MLflow parent run | [abc123](http://127.0.0.1:5123/#/experiments/7/runs/abc123) |" in md
    assert "MLflow parent run" not in summary_markdown({"status": "up to date", "up_to_date": True, "seconds": 0.1})
