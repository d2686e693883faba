import os
from pathlib import Path

import pytest

from pose.fileio import atomic_dir, atomic_path, markdown_table, write_json, write_text


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    f = tmp_path / "out.json"
    write_text(f, "old")
    write_json(f, {"a": 1})
    assert f.read_text() == '{"a": 1}\n'
    assert os.listdir(tmp_path) == ["out.json"]


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    write_text(f, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(f) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert f.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_dir_all_or_nothing(tmp_path: Path) -> None:
    d = tmp_path / "ds"
    with atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
    assert (d / "a").read_text() == "1"
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "b").write_text("2")
            raise ValueError
    assert sorted(os.listdir(d)) == ["a"]
    assert sorted(os.listdir(tmp_path)) == ["ds"]
    with atomic_dir(d) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(os.listdir(d)) == ["c"]


def test_outputs_get_normal_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755


def test_markdown_table_formats_and_escapes() -> None:
    text = markdown_table({"AP": 0.7123456, "keys": ["a", "b"], "pipe": "a|b", "n": None})
    assert text.splitlines() == ["| key | value |", "|---|---|", "| AP | 0.712346 |", '| keys | ["a", "b"] |', "| pipe | a\\|b |",
                                 "| n | None |"]
    assert markdown_table({"AP": 0.7123456}, header="| | |", digits=4).splitlines() == ["| | |", "|---|---|", "| AP | 0.7123 |"]
