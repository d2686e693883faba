from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from pose.pipeline import dvc as pipe

PROJECT = Path(__file__).resolve().parents[2]


def _dvc_repo(tmp_path: Path, cmd: str) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert pipe.dvc(["init", "-q"], tmp_path).returncode == 0
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"boom": {"cmd": cmd}}}))
    return tmp_path


def test_failing_stage_raises_with_its_own_error_text(tmp_path: Path) -> None:
    root = _dvc_repo(tmp_path, "python3 -c \"import sys; print('labels are broken here'); sys.exit(3)\"")
    with pytest.raises(pipe.StageFailed) as e:
        pipe.repro_stage("boom", root)
    text = str(e.value)
    assert "stage 'boom' failed" in text and "labels are broken here" in text and "\n" in text


def test_dir_md5_equals_dvcs_hash(tmp_path: Path) -> None:
    root = _dvc_repo(tmp_path, "true")
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.txt").write_text("alpha\n")
    (root / "data" / "sub" / "b.bin").write_bytes(bytes(range(256)))
    assert pipe.dvc(["add", "data"], root).returncode == 0
    assert pipe.data_md5(root) == pipe.dir_md5(root / "data") + ".dir"


@pytest.mark.slow
def test_regenerated_embedded_data_matches_data_dvc(tmp_path: Path) -> None:
    """A fresh clone has no remote: `pose pipeline data` must recreate exactly what data.dvc records."""
    from pose.params import DataParams, load_params
    from pose.pipeline.prepare import ensure_data

    ensure_data(tmp_path, load_params(PROJECT / "params/data.yaml", DataParams))
    assert pipe.dir_md5(tmp_path / "data") + ".dir" == pipe.data_md5(PROJECT)


def test_pipeline_lock_serialises_runs(tmp_path: Path) -> None:
    order: list[str] = []

    def second() -> None:
        with pipe.pipeline_lock(tmp_path, poll=0.05) as waited:
            order.append(f"second waited {waited > 0.2}")

    with pipe.pipeline_lock(tmp_path):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.4)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second waited True"]
    with pipe.pipeline_lock(tmp_path), pytest.raises(pipe.StageFailed, match="holds"):
        with pipe.pipeline_lock(tmp_path, timeout=0.1, poll=0.05):
            pass


def test_pipeline_env_puts_this_venv_first(tmp_path: Path) -> None:
    env = pipe.pipeline_env(tmp_path, {"X": "1"})
    assert env["PATH"].split(":")[0] == str(pipe.bin_dir()) and env["POSE_PROJECT_ROOT"] == str(tmp_path.resolve()) and env["X"] == "1"


def test_dvc_yaml_stages_match_the_pipeline() -> None:
    spec = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    assert tuple(spec) == pipe.STAGES
    assert all(s["cmd"].startswith("pose ") for s in spec.values())
    assert spec["evaluate"]["metrics"] == [pipe.METRICS]
    outs = [o if isinstance(o, str) else next(iter(o)) for s in spec.values() for o in s.get("outs", [])]
    assert all(o.startswith("build/") for o in outs), "no stage may write inside data/ (data.dvc)"
    for stage in ("train_detector", "train_pose"):
        assert "--resume if-same" in spec[stage]["cmd"], "a retried training stage resumes its own run"
        assert spec[stage]["outs"][0][f"build/{stage.split('_')[1]}"]["persist"] is True
    assert (PROJECT / ".dvc/config").read_text().count("analytics = false") == 1
