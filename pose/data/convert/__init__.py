"""Converters from labelling tools' formats to the canonical dataset folder (and COCO -> YOLO).

Each format is one module with ``convert(src, out_dir, *, split, report) -> None`` that writes
``annotations/<split>.json``, ``images/`` and ``meta.yaml`` into ``out_dir`` (a temp folder that
``run_convert`` renames into place only when everything succeeded).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from pose.data.convert.report import ConversionReport
from pose.errors import ConfigError, DataError
from pose.fileio import atomic_dir

#: format name -> module under pose.data.convert
FORMATS: dict[str, str] = {
    "yolo": "yolo",
    "dlc": "dlc",
    "sleap": "sleap",
    "lightning-pose": "lightning_pose",
    "labelme": "labelme",
}
TARGETS = ("coco", "yolo")
REPORT = "conversion_report.json"


def run_convert(fmt: str, src: str | Path, out: str | Path, *, to: str = "coco", split: str = "train", overwrite: bool = False) -> ConversionReport:
    """Convert ``src`` (format ``fmt``) into ``out``; nothing is left at ``out`` on failure."""
    src, out = Path(src), Path(out)
    if to not in TARGETS:
        raise ConfigError(f"unknown target format '{to}'", entry="--to", hint=f"one of: {', '.join(TARGETS)}")
    if to == "yolo":
        if fmt != "coco":
            raise ConfigError("only COCO converts to YOLO-pose", entry="--from", hint="convert to coco first, then --from coco --to yolo")
    elif fmt not in FORMATS:
        raise ConfigError(f"unknown source format '{fmt}'", entry="--from", hint=f"one of: {', '.join(FORMATS)}")
    if not src.exists():
        raise DataError("source not found", file=src)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError("output folder exists and is not empty", file=out, hint="pass --overwrite or choose another folder")
    report = ConversionReport(source_format=fmt, source=str(src))
    module = importlib.import_module(f"pose.data.convert.{FORMATS['yolo'] if to == 'yolo' else FORMATS[fmt]}")
    with atomic_dir(out) as tmp:
        if to == "yolo":
            module.export(src, tmp, split=split, report=report)
        else:
            module.convert(src, tmp, split=split, report=report)
        report.save(tmp / REPORT)
    return report
