"""Two pipeline runs started at once in one project (real processes, real DVC, one MLflow store):
the project lock serialises them, so both complete, the second finds everything up to date, and
neither mlruns/ nor the DVC cache is corrupted; a bare ``dvc repro`` meanwhile is refused by DVC."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from faults.support import BIN, child_env, finish, locked_stages, make_dvc_repo, set_plan, start, wait_for

from pose import tracking
from pose.pipeline import dvc as pipe

pytestmark = pytest.mark.slow
RUN = "import json, sys; from pose.pipeline.run import run_pipeline; print('RESULT', json.dumps(run_pipeline(sys.argv[1])))"


def _result(out: str) -> dict:
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def test_two_pipelines_at_once_both_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MLFLOW_TRACKING_URI", tracking.ROOT_ENV, tracking.PARENT_ENV):
        monkeypatch.delenv(var, raising=False)
    repo = make_dvc_repo(tmp_path / "repo")
    set_plan(repo, make="pause")
    a = start([sys.executable, "-c", RUN, str(repo)], repo)
    b = start([sys.executable, "-c", RUN, str(repo)], repo)
    assert wait_for(lambda: (repo / "running.make").exists(), a, timeout=120)
    bare = pipe.dvc(["repro"], repo, env=child_env())
    assert bare.returncode != 0 and "busy" in bare.stdout + bare.stderr, "DVC itself refuses a second repro on busy outputs"

    (rc_a, out_a), (rc_b, out_b) = finish(a), finish(b)
    assert rc_a == 0 and rc_b == 0, out_a[-2000:] + out_b[-2000:]
    results = sorted([_result(out_a), _result(out_b)], key=lambda r: r["up_to_date"])
    assert [r["up_to_date"] for r in results] == [False, True], results
    assert results[1]["waited_s"] > 0.5, "the second run waited for the lock"
    assert (repo / "attempts.make").read_text() == "1" and (repo / "attempts.use").read_text() == "1"
    assert set(locked_stages(repo)) == {"make", "use"} and pipe.status(repo) == {}
    assert (repo / "b.txt").read_text() == "v1\nmake\nuse\n"

    with sqlite3.connect(repo / "mlruns" / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs = tracking.client(repo).search_runs([tracking.experiment_id(root=repo)])
    assert [(r.info.run_name, r.info.status) for r in runs] == [("pipeline", "FINISHED")]
    (repo / "b.txt").unlink()
    rc, out = finish(start([str(BIN / "dvc"), "checkout"], repo))
    assert rc == 0 and (repo / "b.txt").read_text() == "v1\nmake\nuse\n", "the DVC cache holds the outputs intact"
