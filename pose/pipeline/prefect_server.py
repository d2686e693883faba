"""A local Prefect server for ``flows/train_pose.py serve`` and ``pose pipeline server`` (``make
server``): ``prefect server start`` on 127.0.0.1 (another ``--host`` only on request, with a
warning), a free port, ``PREFECT_HOME`` inside the project, no telemetry; its API URL in
``.prefect/api_url`` while it runs. The server runs in its own session (a signal to the serving
process's group reaches that process alone, which then pauses the deployment through the still
running server and stops it) and dies with its parent (``PR_SET_PDEATHSIG``), so no orphan server
keeps the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from pose.errors import PoseError
from pose.fileio import write_text

API_URL_FILE = ".prefect/api_url"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_url(host: str, port: int) -> str:
    """The API URL clients on this machine use for a server listening on ``host:port``."""
    return f"http://{host if host not in (*LOOPBACK, '0.0.0.0', '::') else '127.0.0.1'}:{port}/api"


def wait_healthy(url: str, timeout: float = 90.0) -> None:
    """Poll ``URL/health`` until it answers 200; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"Prefect server at {url} not healthy after {timeout:.0f} s")


def server_env(root: str | Path) -> dict[str, str]:
    """The server's environment: ``PREFECT_HOME`` under ``root`` unless set, no telemetry."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(Path(root) / ".prefect"))
    env.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false"})
    return env


def host_warning(host: str) -> str | None:
    """The warning printed when a server is asked to listen beyond this machine (``--host``)."""
    if host in LOOPBACK:
        return None
    return (f"warning: the Prefect server will listen on {host}: anyone who can reach this machine can see and trigger "
            "runs (it has no authentication); prefer 127.0.0.1 and an SSH tunnel")


def server_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """``prefect server start`` on ``host:port`` (an argument list, never a shell string)."""
    return [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", host, "--port", str(port)]


def _die_with_parent() -> None:
    """In the server process before exec (Linux): SIGTERM when its parent dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def running_server(root: str | Path, port: int, host: str = "127.0.0.1") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the server, wait until healthy, write ``ROOT/.prefect/api_url``; yields the API URL and
    the server process. SIGTERM to this process exits it cleanly (SystemExit), so the server is always stopped."""
    env = server_env(root)
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(server_command(port, host), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              start_new_session=True, preexec_fn=_die_with_parent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    url, url_file = api_url(host, port), Path(root) / API_URL_FILE
    try:
        wait_healthy(url)
        url_file.parent.mkdir(parents=True, exist_ok=True)
        write_text(url_file, url + "\n")
        yield url, server
    finally:
        url_file.unlink(missing_ok=True)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@contextlib.contextmanager
def local_server(root: str | Path, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """:func:`running_server`, yielding the API URL only."""
    with running_server(root, port, host) as (url, _):
        yield url


def running_url(root: str | Path) -> str | None:
    """The API URL in ``ROOT/.prefect/api_url`` when a server answers there now, else None."""
    try:
        url = (Path(root) / API_URL_FILE).read_text("utf-8").strip()
        wait_healthy(url, timeout=2)
    except (OSError, RuntimeError):
        return None
    return url


def run_server(root: str | Path, port: int | None = None, host: str = "127.0.0.1",
               announce: Callable[[str], object] = print) -> int:
    """``make server``: the local server alone, in the foreground until it exits or Ctrl-C
    (then stopped); its exit status. Refused when this project's server already runs."""
    if url := running_url(root):
        raise PoseError(f"a Prefect server of this project already runs at {url}", file=API_URL_FILE,
                        hint="use it (make deploy / make worker / make trigger), or stop it first")
    port = port or free_port()
    with running_server(root, port, host) as (url, server):
        announce(url)
        return server.wait()
