"""The ``validate`` stage: every split of the prepared dataset, one JSON report each (plus the
flip-check picture) and ``summary.json``; any error fails the stage and so the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pose.data.layout import splits
from pose.data.validate import ValidationReport, validate_source
from pose.fileio import atomic_dir, write_json

SUMMARY = "summary.json"


def validate_dataset(dataset: str | Path, out: str | Path, *, decode: bool = False) -> tuple[dict[str, Any], list[ValidationReport]]:
    """Validate each split of ``dataset``; reports land in ``out`` (replaced atomically)."""
    names = splits(Path(dataset))
    reports = [validate_source(dataset, split=s, decode=decode) for s in names]
    with atomic_dir(out) as tmp:
        for name, report in zip(names, reports):
            report.save(tmp / f"{name}.json")
        summary = {"splits": {n: {"errors": len(r.errors), "warnings": len(r.warnings), **r.counts} for n, r in zip(names, reports)},
                   "errors": sum(len(r.errors) for r in reports), "warnings": sum(len(r.warnings) for r in reports)}
        write_json(tmp / SUMMARY, summary, indent=2)
    return summary, reports
