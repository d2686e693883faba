"""Shared by the tracking tests: no outer store leaks in; a real sqlite store copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pose import tracking


@pytest.fixture(autouse=True)
def _no_outside_store(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised store without experiments (creating the sqlite schema takes seconds): copied per test."""
    root = tmp_path_factory.mktemp("template")
    tracking.client(root).search_experiments()
    return root / "mlruns"


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "mlruns")
    return tmp_path
