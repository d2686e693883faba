"""Shared fixtures. Tests that read ../shared/data skip when it is absent, but fail under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two xdist workers on the 2 cores: one thread each (torch reads this when it
    # is first imported), inherited by the pose / dvc / prefect processes the tests start.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# Prefect's in-process (ephemeral) server gets 20 s to start by default: not enough while the other
# worker loads the cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Each test starts from the same environment: a CLI call in-process exports settings for its
    children (``--quiet`` sets POSE_LOG_LEVEL), which must not reach the next test on the worker."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real sample datasets (../shared/data)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {SHARED_DATA} is missing")
        pytest.skip(f"{SHARED_DATA} not present (real sample data lives beside the project)")
    return SHARED_DATA
