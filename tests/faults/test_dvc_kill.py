"""SIGKILL ``dvc repro`` while a stage runs (a real DVC in a minimal two-stage repo whose stage
sleeps): dvc.lock never records a stage that did not finish, its partial output never appears,
and the next ``dvc repro`` re-runs exactly that stage and completes."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults.support import BIN, child_env, finish, kill_group, locked_stages, make_dvc_repo, set_plan, start, wait_for

from pose.pipeline import dvc as pipe

pytestmark = pytest.mark.slow


def _kill_repro_during(repo: Path, stage: str) -> None:
    proc = start([str(BIN / "dvc"), "repro"], repo)
    assert wait_for(lambda: (repo / f"running.{stage}").exists(), proc, timeout=120), proc.communicate()[0][-2000:]
    assert kill_group(proc)[0], "dvc repro ended before the kill"


def test_killed_repro_never_records_the_unfinished_stage(tmp_path: Path) -> None:
    repo = make_dvc_repo(tmp_path / "repo")
    set_plan(repo, make="slow")
    _kill_repro_during(repo, "make")
    assert "make" not in locked_stages(repo) and not (repo / "a.txt").exists()

    set_plan(repo)
    rc, out = finish(start([str(BIN / "dvc"), "repro"], repo))
    assert rc == 0 and "Running stage 'make'" in out and "Running stage 'use'" in out, out
    done = locked_stages(repo)
    assert set(done) == {"make", "use"} and (repo / "b.txt").read_text() == "v1\nmake\nuse\n"

    (repo / "in.txt").write_text("v2\n")
    set_plan(repo, use="slow")
    _kill_repro_during(repo, "use")
    after = locked_stages(repo)
    assert after["use"] == done["use"], "dvc.lock changed for a stage that did not finish"
    assert after["make"] != done["make"], "the finished stage before it is recorded"
    b = repo / "b.txt"
    assert not b.exists() or b.read_text() == "v1\nmake\nuse\n", "DVC removes the old output first; never a partial one"

    set_plan(repo)
    rc, out = finish(start([str(BIN / "dvc"), "repro"], repo))
    assert rc == 0 and "Stage 'make' didn't change, skipping" in out and "Running stage 'use'" in out, out
    assert (repo / "b.txt").read_text() == "v2\nmake\nuse\n"
    assert int((repo / "attempts.use").read_text()) == 3
    assert pipe.status(repo) == {}
    assert pipe.dvc(["status"], repo, env=child_env()).returncode == 0
