"""Fixtures: tracked and untracked results of ``output_cases``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose.inference.outputs.results import VideoResults

from output_cases import make_results


@pytest.fixture
def tracked(tmp_path: Path) -> VideoResults:
    return make_results(tmp_path, tracked=True)


@pytest.fixture
def untracked(tmp_path: Path) -> VideoResults:
    return make_results(tmp_path, tracked=False)
