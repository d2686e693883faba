"""Where the library's log records go in a ``pose`` process: the ``pose`` loggers print on stderr
(``err_console``) at the level ``--quiet`` / ``--verbose`` ask for, passed on to child ``pose``
processes. The library logs through ``logging``; the CLI alone installs this handler."""

from __future__ import annotations

import logging
import os
from typing import Any

from pose.cli.common import err_console

#: The verbosity a ``pose`` process passes on to the ``pose`` processes it starts (DVC stages).
LOG_LEVEL_ENV = "POSE_LOG_LEVEL"
LOG_LEVELS = {"quiet": logging.WARNING, "info": logging.INFO, "verbose": logging.DEBUG}


class _LogPrefix(logging.Formatter):
    """The message, with ``warning:`` / ``error:`` before records above INFO (as the CLI's own errors)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno <= logging.INFO else f"{record.levelname.lower()}: {text}"


def _log_handler() -> logging.Handler:
    """A rich handler on ``err_console`` (log lines and progress bars share one live display) that
    prints each record as its message alone: no time/level/path columns, no padding."""
    from rich.highlighter import NullHighlighter
    from rich.logging import RichHandler

    class Handler(RichHandler):
        def render(self, *, record: logging.LogRecord, traceback: Any, message_renderable: Any) -> Any:
            return message_renderable

    handler = Handler(console=err_console, markup=False, highlighter=NullHighlighter(), show_path=False)
    handler.setFormatter(_LogPrefix())
    handler.set_name("pose-cli")
    return handler


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Route the ``pose`` loggers to stderr: INFO, WARNING with ``quiet``, DEBUG with ``verbose``;
    neither: what a parent ``pose`` process asked for (``POSE_LOG_LEVEL``), else INFO. A flag is
    passed on to the processes this one starts (``pose pipeline run`` -> DVC -> stage commands)."""
    inherited = os.environ.get(LOG_LEVEL_ENV, "info")
    level = "quiet" if quiet else "verbose" if verbose else inherited if inherited in LOG_LEVELS else "info"
    logger = logging.getLogger("pose")
    for old in [h for h in logger.handlers if h.get_name() == "pose-cli"]:
        logger.removeHandler(old)
    logger.addHandler(_log_handler())
    logger.setLevel(LOG_LEVELS[level])
    if quiet or verbose:
        os.environ[LOG_LEVEL_ENV] = level
