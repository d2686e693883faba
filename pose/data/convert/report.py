"""What a conversion derived, dropped or defaulted: JSON beside the output, summary on screen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pose.fileio import write_json


@dataclass
class ConversionReport:
    """Filled by a converter as it goes; ``dropped`` and ``warnings`` name the source entry."""

    source_format: str
    source: str
    images: int = 0
    instances: int = 0
    keypoints: int = 0
    derived: Counter[str] = field(default_factory=Counter)
    defaulted: Counter[str] = field(default_factory=Counter)
    dropped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def drop(self, entry: str, reason: str) -> None:
        self.dropped.append({"entry": entry, "reason": reason})

    def to_json(self) -> dict[str, Any]:
        return {
            "source_format": self.source_format,
            "source": self.source,
            "images": self.images,
            "instances": self.instances,
            "keypoints": self.keypoints,
            "derived": dict(self.derived),
            "defaulted": dict(self.defaulted),
            "dropped": self.dropped,
            "warnings": self.warnings,
        }

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_json(), indent=2)

    def print(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        t = Table(title=f"conversion from {self.source_format}: {self.source}", show_header=True)
        t.add_column("what")
        t.add_column("count", justify="right")
        t.add_row("images", str(self.images))
        t.add_row("instances", str(self.instances))
        t.add_row("keypoints per instance", str(self.keypoints))
        for k, v in sorted(self.derived.items()):
            t.add_row(f"derived: {k}", str(v))
        for k, v in sorted(self.defaulted.items()):
            t.add_row(f"defaulted: {k}", str(v))
        reasons = Counter(d["reason"] for d in self.dropped)
        for k, v in sorted(reasons.items()):
            t.add_row(f"dropped: {k}", str(v), style="yellow")
        console.print(t)
        for w in self.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}")
