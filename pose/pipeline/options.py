"""Options shared by the commands that run inside the pipeline (``pose train``, ``pose train-det``
and the ``pose pipeline`` stage commands): declared once here, below the CLI."""

from __future__ import annotations

from typing import Annotated

import typer

Track = Annotated[bool, typer.Option("--track/--no-track", envvar="POSE_TRACK", help="Log to MLflow (a child run inside the pipeline).")]
