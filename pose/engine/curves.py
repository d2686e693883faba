"""Training curves as DVC plot files, written by a trainer callback: one TSV row per epoch.

``<work_dir>/plots/train.tsv``: epoch, the loss and its terms, lr. ``plots/val.tsv``: epoch and the
validation metrics of the epochs that were validated. ``dvc.yaml`` declares both as plots, so
``dvc plots diff`` overlays the curves of two commits or experiments. A resumed run keeps the rows
up to the epoch it resumes from; each write is atomic (the whole file, temp + rename).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pose.fileio import write_text

TRAIN = Path("plots/train.tsv")
VAL = Path("plots/val.tsv")
#: Per-epoch values that are not curves to compare (wall-clock noise).
SKIP = frozenset({"data_wait_s"})


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a curve file (empty when it does not exist)."""
    p = Path(path)
    if not p.is_file():
        return []
    with open(p, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _tsv(rows: Iterable[Mapping[str, Any]]) -> str:
    rows = list(rows)
    columns = ["epoch"] + sorted({k for r in rows for k in r} - {"epoch"}, key=lambda k: (k != "loss", k))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, delimiter="\t", lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


class CurveFiles:
    """Trainer callback: ``on_train_start`` keeps the rows before the start epoch, ``on_epoch_end``
    appends one row to each file (``val_keys`` go to ``val.tsv``, the rest to ``train.tsv``)."""

    def __init__(self, work_dir: str | Path, val_keys: Iterable[str]) -> None:
        self.paths = {"train": Path(work_dir) / TRAIN, "val": Path(work_dir) / VAL}
        self.val_keys = frozenset(val_keys)
        self.rows: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}

    def on_train_start(self, info: dict[str, Any]) -> None:
        start = int(info.get("start_epoch") or 0)
        for kind, path in self.paths.items():
            self.rows[kind] = [r for r in read_rows(path) if start and r.get("epoch", "").isdigit() and int(r["epoch"]) <= start]
            write_text(path, _tsv(self.rows[kind]) if self.rows[kind] else "epoch\n")

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        train = {k: v for k, v in metrics.items() if k not in self.val_keys and k not in SKIP and k != "epoch"}
        val = {k: v for k, v in metrics.items() if k in self.val_keys}
        for kind, values in (("train", train), ("val", val)):
            if values:
                self.rows[kind].append({"epoch": epoch, **{k: f"{float(v):.6g}" for k, v in values.items()}})
                write_text(self.paths[kind], _tsv(self.rows[kind]))
