"""Session fixture: one tiny throw-away copy of the project shared by the e2e tests (see support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.support import make_tiny_repo


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_repo(tmp_path_factory.mktemp("e2e") / "repo")
