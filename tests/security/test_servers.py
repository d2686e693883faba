"""Every server the project starts listens on 127.0.0.1 unless an explicit flag says otherwise,
and another address prints a warning: the MLflow UI (``make ui``) and the Prefect server
(``flows/train_pose.py serve`` / ``make serve``, started by ``pose.pipeline.prefect_server``)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pose.pipeline import prefect_server

PROJECT = Path(__file__).resolve().parents[2]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture(scope="module")
def flows() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_pose_flow_security", PROJECT / "flows" / "train_pose.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _make_n(*args: str) -> str:
    r = subprocess.run(["make", "-n", *args], cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_make
def test_make_ui_and_serve_bind_loopback_by_default() -> None:
    ui = _make_n("ui")
    assert "mlflow ui" in ui and "--host 127.0.0.1" in ui and "warning" not in ui
    assert "train_pose.py serve --host 127.0.0.1" in _make_n("serve")


@needs_make
def test_make_ui_elsewhere_is_explicit_and_warned() -> None:
    ui = _make_n("ui", "UI_HOST=0.0.0.0")
    assert "--host 0.0.0.0" in ui and "warning: the MLflow UI will listen on 0.0.0.0" in ui
    assert "--host 0.0.0.0" in _make_n("serve", "SERVE_HOST=0.0.0.0")


def test_prefect_server_defaults_to_loopback(flows: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    cmd = prefect_server.server_command(4200)
    assert cmd[1:] == ["server", "start", "--host", "127.0.0.1", "--port", "4200"] and isinstance(cmd, list)
    seen = []
    monkeypatch.setattr(flows, "serve", lambda port, host: seen.append((port, host)))
    flows.main(["serve"])
    flows.main(["serve", "--host", "0.0.0.0", "--port", "4300"])
    assert seen == [(None, "127.0.0.1"), (4300, "0.0.0.0")]


def test_prefect_server_elsewhere_warns() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        assert prefect_server.host_warning(host) is None
    assert "listen on 0.0.0.0" in prefect_server.host_warning("0.0.0.0") and "127.0.0.1" in prefect_server.host_warning("10.1.2.3")
    assert prefect_server.server_command(1, "0.0.0.0")[3:5] == ["--host", "0.0.0.0"]


class _Stop(Exception):
    pass


def test_serve_prints_the_warning_and_passes_the_host(flows: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    started = []

    def popen(args: list[str], **kwargs: object) -> None:
        started.append(args)
        raise _Stop

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setattr(prefect_server.subprocess, "Popen", popen)
    for host in ("127.0.0.1", "0.0.0.0"):
        with pytest.raises(_Stop):
            flows.serve(4400, host)
    err = capsys.readouterr().err
    assert [a[a.index("--host") + 1] for a in started] == ["127.0.0.1", "0.0.0.0"]
    assert err.count("warning:") == 1 and "listen on 0.0.0.0" in err
