"""The ``--track`` option of the commands that run inside the pipeline (``pose train``,
``pose train-det``, the ``pose pipeline`` stage commands), declared once, below the CLI.
Kept light (typer only): ``pose.cli`` imports it at start."""

from __future__ import annotations

from typing import Annotated

import typer

Track = Annotated[bool, typer.Option("--track/--no-track", envvar="POSE_TRACK", help="Log to MLflow (a child run inside the pipeline).")]
