"""The ``pose`` command line: the typer app, its command table and ``main``. One module per group of
commands, each command a few lines over the module that does the work; heavy libraries are
imported inside commands so ``--help`` is instant.

User mistakes (``PoseError``) print one line naming the file and entry, plus a hint, and exit 2;
``--debug`` shows the traceback instead. The library logs through ``logging`` (loggers under
``pose``); the CLI alone installs a handler for them (``--quiet`` / ``--verbose``, ``pose.cli.logs``).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from pose.cli import bench, evaluate, infer, models, publish, train
from pose.cli.common import console, err_console
from pose.cli.data import data_app
from pose.cli.logs import LOG_LEVEL_ENV, setup_logging
from pose.errors import PoseError, missing_extra
from pose.pipeline.commands import pipeline_app

app = typer.Typer(
    help="posepipe: train, evaluate and publish 2D pose models from labelled images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Warnings and errors only: no progress or per-epoch lines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug messages too (e.g. every DVC command run)."),
) -> None:
    """posepipe: labelled images in, a tracked, published, scheduled pose model out."""
    from pose.errors import ConfigError

    if quiet and verbose:
        raise ConfigError("give --quiet or --verbose, not both", entry="--quiet/--verbose")
    setup_logging(quiet, verbose)


@app.command()
def version() -> None:
    """Print the posepipe version."""
    from pose import __version__

    console.print(__version__)


# The command table, in `pose --help` order.
app.add_typer(data_app, name="data")
app.command("train")(train.train)
app.command("train-det")(train.train_det)
app.command("test-det")(evaluate.test_det)
app.command("test")(evaluate.test)
app.command("infer")(infer.infer)
app.command("publish")(publish.publish)
app.command("export")(publish.export)
app.command("registry")(publish.registry)
app.command("models")(models.models)
app.command("eval")(evaluate.eval_)
app.command("bench")(bench.bench)
app.add_typer(pipeline_app, name="pipeline")


def _fail(e: PoseError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
    if e.hint:
        err_console.print(f"[dim]hint:[/] {escape(e.hint)}", soft_wrap=True)
    sys.exit(2)


def main() -> None:
    """Console-script entry: one-line errors (exit 2) unless ``--debug``. The global flags
    (``--debug``, ``--quiet``, ``--verbose``) work anywhere on the line."""
    argv = sys.argv[1:]
    flags = [f for f in ("--quiet", "--verbose") if f in argv]
    debug = "--debug" in argv or os.environ.get("POSE_DEBUG") == "1"
    args = [a for a in argv if a not in ("--debug", "--quiet", "--verbose")]
    try:
        app(args=(["--debug"] if debug else []) + flags + args, prog_name="pose")
    except PoseError as e:
        if debug:
            raise
        _fail(e)
    except ModuleNotFoundError as e:  # dvc / mlflow / prefect without the pipeline extra
        missing = missing_extra(e)
        if missing is None or debug:
            raise
        _fail(missing)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


__all__ = ["LOG_LEVEL_ENV", "app", "main", "setup_logging"]
