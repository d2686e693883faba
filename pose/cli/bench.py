"""``pose bench``: find ``benchmarks/bench_<name>.py`` in the project root and run them one by one
(each prints its table and writes JSON under ``benchmarks/results/``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from pose.cli.common import console
from pose.errors import ConfigError

Names = Annotated[Optional[list[str]], typer.Argument(help="Benchmarks to run (default: all), e.g. codecs train_step.")]
ListOnly = Annotated[bool, typer.Option("--list", help="List the benchmarks and exit.")]


def find_benchmarks(root: Path) -> dict[str, Path]:
    """Benchmark name -> script, from ``root/benchmarks/bench_<name>.py``; none is an error."""
    found = {p.stem.removeprefix("bench_"): p for p in sorted((root / "benchmarks").glob("bench_*.py"))}
    if not found:
        raise ConfigError("no benchmarks/ folder here", file=root / "benchmarks", hint="run from the project root")
    return found


def run_benchmarks(root: Path, found: dict[str, Path], names: list[str]) -> int:
    """Run ``names`` (all when empty) in order under a rule each; the first non-zero exit code stops them."""
    for name in names or list(found):
        if name not in found:
            raise ConfigError(f"unknown benchmark '{name}'", entry="NAMES", hint=f"one of: {', '.join(found)}")
        console.rule(name)
        rc = subprocess.run([sys.executable, str(found[name])], cwd=root).returncode
        if rc:
            return rc
    return 0


def bench(names: Names = None, list_only: ListOnly = False) -> None:
    """Run benchmarks/bench_<name>.py from the project root: tables on screen, JSON in benchmarks/results/."""
    found = find_benchmarks(Path.cwd())
    if list_only:
        console.print("\n".join(found))
        return
    rc = run_benchmarks(Path.cwd(), found, names or [])
    if rc:
        raise typer.Exit(rc)
