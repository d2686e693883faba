"""Placing image files into a converted dataset: hard link when possible, else copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from pose.errors import DataError


def place_image(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (same file system) or copy it; ``dst``'s folders are made."""
    if not src.is_file():
        raise DataError("image file not found", file=src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stored_parts(stored: str) -> list[str]:
    """Path components of a path written on any OS (``D:\\a\\b.jpg`` -> ``['a', 'b.jpg']``)."""
    parts = [p for p in PurePosixPath(stored.replace("\\", "/")).parts if p not in ("/", "", ".", "..")]
    return parts[1:] if parts and parts[0].endswith(":") else parts


def find_moved_file(stored: str, bases: list[Path]) -> Path | None:
    """``stored`` as written (relative to ``bases[0]``), else its longest trailing sub-path under a base.

    Label files keep the absolute paths of the machine they were made on; the data usually
    sits beside the label file (or one folder up) with the same trailing folders.
    """
    first = Path(stored) if Path(stored).is_absolute() else bases[0] / stored
    if first.is_file():
        return first
    parts = stored_parts(stored)
    for n in range(len(parts), 0, -1):
        for base in bases:
            cand = base.joinpath(*parts[-n:])
            if cand.is_file():
                return cand
    return None
