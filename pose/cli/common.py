"""What every command module shares: the two consoles (results on stdout, progress and warnings on
stderr) and a two-column table. Kept light: ``pose --help`` imports it."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console

err_console = Console(stderr=True, highlight=False)
console = Console(highlight=False)


def print_pairs(title: str, header: tuple[str, str], rows: Iterable[tuple[str, str]],
                warnings: Iterable[tuple[str, str]] = ()) -> None:
    """A titled two-column table (values right-aligned) on stdout; ``warnings`` rows last, in yellow."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column(header[0])
    table.add_column(header[1], justify="right")
    for key, value in rows:
        table.add_row(key, value)
    for key, value in warnings:
        table.add_row(key, value, style="yellow")
    console.print(table)
