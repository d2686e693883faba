from pose.errors import CheckpointError, ConfigError, DataError, PoseError


def test_one_line_message_names_file_and_entry() -> None:
    e = DataError("bad\nvalue", file="a/b.json", entry="annotations[id=3]", hint="fix it")
    assert str(e) == "a/b.json: annotations[id=3]: bad value"
    assert e.hint == "fix it"
    assert str(PoseError("plain")) == "plain"


def test_hierarchy() -> None:
    for cls in (DataError, ConfigError, CheckpointError):
        assert issubclass(cls, PoseError)
