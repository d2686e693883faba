"""Lineage tags: data hash from dvc.lock, params hash, git commit."""

from __future__ import annotations

from pathlib import Path

from pose import tracking


def test_lineage_reads_dvc_lock_and_params(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "pose.yaml").write_text("lr: 1\n")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  prepare:\n    cmd: pose data prepare\n    deps:\n    - path: data\n"
        "      hash: md5\n      md5: 0123abcd.dir\n    outs:\n    - path: build/dataset\n      md5: ffff.dir\n")
    tags = tracking.lineage_tags(tmp_path)
    assert tags["pose.data_hash"] == "0123abcd.dir" and tags["pose.git_commit"] == "unknown"
    before = tags["pose.params_hash"]
    (tmp_path / "params" / "pose.yaml").write_text("lr: 2\n")
    assert tracking.lineage_tags(tmp_path)["pose.params_hash"] != before
