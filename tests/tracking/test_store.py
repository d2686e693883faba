"""Where the MLflow store is: the root argument, $POSE_PROJECT_ROOT, the nearest dvc.yaml, a tracking server."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose import tracking


def test_uri_follows_root_env_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tracking.tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.chdir(tmp_path / "mlruns")
    assert tracking.tracking_uri() == f"sqlite:///{(tmp_path / 'mlruns').resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv(tracking.ROOT_ENV, str(tmp_path))
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.tracking_uri() == "http://127.0.0.1:5999"
    assert tracking.tracking_uri(tmp_path).startswith("sqlite:///"), "an explicit root wins"


def test_root_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "build" / "eval").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "build" / "eval")
    assert tracking.project_root() == tmp_path.resolve()
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    assert not (tmp_path / "build" / "eval" / "mlruns").exists()
