"""DeepLabCut labelled data -> canonical dataset folder.

``src`` is a project folder (``config.yaml`` + ``labeled-data/<video>/CollectedData_*.csv``),
a project's ``config.yaml``, one ``labeled-data/<video>`` folder, a folder of such folders, or
one ``CollectedData_*.csv`` / ``.h5``. Image paths in the tables are relative to the project
folder (the one holding ``labeled-data``); when an image is not there, the file of the same
name beside the label file is used (as SLEAP does for moved datasets). Multi-animal tables
give one instance per individual with a labelled point; unique bodyparts are not converted.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pose.data.coco import resolve_image_path
from pose.data.convert.output import draft_meta, write_dataset
from pose.data.convert.report import ConversionReport
from pose.data.convert.tabular import LabelTable, collect, read_table
from pose.errors import DataError

CONFIG = "config.yaml"
LABELED_DATA = "labeled-data"
_FIND_HINT = "pass a DeepLabCut project folder, a labeled-data/<video> folder or a CollectedData_*.csv file"


def convert(src: Path, out_dir: Path, *, split: str, report: ConversionReport) -> None:
    """Convert DeepLabCut labels at ``src`` into ``out_dir``."""
    src = Path(src).absolute()
    root, files, config_path = find_label_files(src)
    config = read_config(config_path) if config_path else {}
    tables = [read_table(f) for f in files]
    fallback = 0

    def resolve(table: LabelTable, image: str) -> tuple[Path, str]:
        nonlocal fallback
        entry = f"row {image}"
        path = resolve_image_path(root, image, source=str(table.source), entry=entry)
        if not path.is_file():
            beside = table.source.parent / PurePosixPath(image.replace("\\", "/")).name
            if not beside.is_file():
                raise DataError(f"image not found (looked for {path} and {beside})", file=table.source, entry=entry)
            path, fallback = beside, fallback + 1
        return path, path.relative_to(root).as_posix()

    data = collect(tables, resolve, report)
    if fallback:
        report.derived["image path (label file's folder + file name)"] += fallback
    names = tables[0].bodyparts
    _check_config_names(config, names, config_path, report)
    meta = draft_meta(
        str(config.get("Task") or root.name),
        names,
        skeleton=_skeleton(config, names, config_path, report),
        category="animal",
        source=files[0],
    )
    write_dataset(out_dir, data, meta, split=split, report=report)


def find_label_files(src: Path) -> tuple[Path, list[Path], Path | None]:
    """(project root, label files, config.yaml or None) for any accepted ``src``."""
    if src.is_file():
        if src.suffix.lower() in (".yaml", ".yml"):
            root = src.parent
            return root, _files_under(root, [root / LABELED_DATA]), src
        root = _project_root(src.parent)
        return root, [src], _config_in(root)
    if (src / CONFIG).is_file() or (src / LABELED_DATA).is_dir():
        return src, _files_under(src, [src / LABELED_DATA]), _config_in(src)
    root = _project_root(src)
    return root, _files_under(src, [src]), _config_in(root)


def _project_root(folder: Path) -> Path:
    """The folder holding ``labeled-data`` when ``folder`` is (inside) one, else ``folder``."""
    if folder.name == LABELED_DATA:
        return folder.parent
    if folder.parent.name == LABELED_DATA:
        return folder.parent.parent
    return folder


def _config_in(root: Path) -> Path | None:
    return root / CONFIG if (root / CONFIG).is_file() else None


def _files_under(src: Path, parents: list[Path]) -> list[Path]:
    """Label files in each parent and its sub-folders: CollectedData*.csv, else .h5, else any .csv."""
    folders = [p for parent in parents if parent.is_dir() for p in (parent, *sorted(d for d in parent.iterdir() if d.is_dir()))]
    files: list[Path] = []
    for folder in folders:
        for pattern in ("CollectedData*.csv", "CollectedData*.h5", "*.csv"):
            found = sorted(folder.glob(pattern))
            if found:
                files += found
                break
    if not files:
        raise DataError("no DeepLabCut label files (CollectedData_*.csv / .h5) found", file=src, hint=_FIND_HINT)
    return files


def read_config(path: Path) -> dict[str, Any]:
    """A DeepLabCut ``config.yaml`` as a mapping (only names and skeleton are used)."""
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise DataError(f"invalid YAML ({' '.join(str(e).split())[:160]})", file=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read ({e})", file=path) from None
    if not isinstance(d, dict):
        raise DataError("a DeepLabCut config must be a mapping", file=path)
    return d


def _check_config_names(config: dict[str, Any], names: list[str], path: Path | None, report: ConversionReport) -> None:
    """A bodypart the config lists but no label file has is an error (a renamed or misspelt part
    would silently never be trained); label-file parts the config lacks are a warning."""
    key = "multianimalbodyparts" if config.get("multianimalproject") else "bodyparts"
    listed = config.get(key)
    if not isinstance(listed, list):
        return
    missing = [str(n) for n in listed if str(n) not in names]
    if missing:
        raise DataError(f"{', '.join(missing)} listed but in no label file (they have: {', '.join(names)})", file=path, entry=key,
                        hint="fix the names in config.yaml or label those bodyparts")
    if set(map(str, listed)) != set(names):
        report.warnings.append(f"{path}: {key} {listed} lack some of the label files' {names}; the label files' are used")


def _skeleton(config: dict[str, Any], names: list[str], path: Path | None, report: ConversionReport) -> list[tuple[str, str]]:
    """Config skeleton links whose both ends are keypoints; others are reported and left out."""
    links = config.get("skeleton") or []
    if not isinstance(links, list):
        raise DataError("skeleton must be a list of [bodypart, bodypart] pairs", file=path, entry="skeleton")
    known = set(names)
    out: list[tuple[str, str]] = []
    for j, link in enumerate(links):
        if not isinstance(link, list) or len(link) != 2:
            raise DataError("a link must be a pair of bodypart names", file=path, entry=f"skeleton[{j}]")
        a, b = (str(v) for v in link)
        if a in known and b in known:
            out.append((a, b))
        else:
            report.drop(f"{path}: skeleton[{j}] {a}-{b}", "link to a bodypart that is not labelled")
    return out
