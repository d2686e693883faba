"""Shared benchmark plumbing: a rich table on screen and a JSON file in benchmarks/results/."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pose.fileio import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def timeit(fn: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """(best, median) seconds per call after ``warmup`` calls; best resists a busy machine."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def machine() -> dict[str, Any]:
    import os

    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def report(name: str, rows: list[dict[str, Any]], *, title: str, extra: dict[str, Any] | None = None,
           out: Path | None = None) -> Path:
    """Print ``rows`` as a table and write ``results/<name>.json`` (or ``out``); returns the JSON path."""
    table = Table(title=title)
    for col in rows[0] if rows else []:
        table.add_column(col, justify="right" if isinstance(rows[0][col], (int, float)) else "left")
    for r in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()])
    Console().print(table)
    out = out or RESULTS / f"{name}.json"
    write_json(out, {"benchmark": name, "machine": machine(), "rows": rows, **(extra or {})}, indent=2)
    print(f"wrote {out}")
    return out
