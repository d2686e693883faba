"""DeepLabCut-style label tables, as written by DeepLabCut and Lightning Pose.

A table has column header rows ``scorer / bodyparts / coords`` (single animal) or
``scorer / individuals / bodyparts / coords`` (multi-animal) and one row per labelled image,
indexed by its relative path in one column (``labeled-data/video/img001.png``) or, since DLC
2.3, in three (``labeled-data, video, img001.png``). Empty or NaN cells are unlabelled points.
DeepLabCut's ``.h5`` twin is a pandas HDFStore "table"; it is read here with h5py (no
PyTables), for the layout DeepLabCut writes: one string index column and float value blocks.
"""

from __future__ import annotations

import csv
import io
import math
import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pose.data.convert.output import Collected, image_sizes
from pose.data.convert.report import ConversionReport
from pose.errors import DataError

SINGLE_LEVELS = ("scorer", "bodyparts", "coords")
MULTI_LEVELS = ("scorer", "individuals", "bodyparts", "coords")
#: DeepLabCut's pseudo-individual that holds the unique (not per-animal) bodyparts.
UNIQUE_INDIVIDUAL = "single"
_HEADER_HINT = "a DeepLabCut / Lightning Pose label CSV starts with header rows scorer, [individuals,] bodyparts, coords"
_H5_HINT = "convert the CSV beside it instead (DeepLabCut writes CollectedData_<scorer>.csv next to the .h5)"


@dataclass(eq=False)
class LabelTable:
    """One label file as arrays. ``individuals`` is ``[""]`` for a single-animal table."""

    source: Path
    images: list[str]  # (R,) image path of each row, '/'-joined as written
    individuals: list[str]  # (I,)
    bodyparts: list[str]  # (K,)
    xy: np.ndarray  # (R, I, K, 2) float64, NaN where unlabelled
    multi_animal: bool
    unique_bodyparts: list[str]
    unique_labelled: int  # labelled points of the unique bodyparts (not in ``xy``)
    ignored_coords: list[str]  # e.g. "likelihood"


# ------------------------------------------------------------------------ reading
def read_table(path: Path) -> LabelTable:
    """A ``.csv`` or DeepLabCut ``.h5`` label file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_table(path)
    if suffix in (".h5", ".hdf5"):
        return read_h5_table(path)
    raise DataError(f"unsupported label file type '{path.suffix}'", file=path, hint="pass a .csv (or DeepLabCut .h5) label file")


def read_csv_table(path: Path) -> LabelTable:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except UnicodeDecodeError as e:
        raise DataError(f"not valid UTF-8 (byte {e.start})", file=path) from None
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in r)]
    if not rows or rows[0][1][0].strip() != "scorer":
        raise DataError("not a DeepLabCut-style label table (no 'scorer' header row)", file=path, entry="row 1", hint=_HEADER_HINT)
    nlev = next((i + 1 for i, (_, r) in enumerate(rows[:4]) if r[0].strip() == "coords"), 0)
    levels = tuple(r[0].strip() for _, r in rows[:nlev])
    if levels not in (SINGLE_LEVELS, MULTI_LEVELS):
        raise DataError(f"header rows are {', '.join(r[0] for _, r in rows[:4])}", file=path, entry="header", hint=_HEADER_HINT)
    coords_row = rows[nlev - 1][1]
    nidx = next((j for j in range(1, len(coords_row)) if coords_row[j].strip()), len(coords_row))
    width = max(len(r) for _, r in rows[:nlev])
    for n, r in rows:
        if len(r) > width:
            raise DataError(f"{len(r)} cells, the header has {width}", file=path, entry=f"row {n}")
        r.extend([""] * (width - len(r)))
    columns = [tuple(r[j].strip() for _, r in rows[:nlev]) for j in range(nidx, width)]
    body = rows[nlev:]
    images = ["/".join(c.strip() for c in r[:nidx] if c.strip()) for _, r in body]
    cells = np.array([[c.strip() for c in r[nidx:]] for _, r in body], dtype=object).reshape(len(body), width - nidx)
    values = _parse_values(cells, path=path, images=images, columns=columns, line_numbers=[n for n, _ in body])
    return _table(path, levels, columns, images, values)


def _parse_values(cells: np.ndarray, *, path: Path, images: list[str], columns: list[tuple[str, ...]], line_numbers: list[int]) -> np.ndarray:
    """Float cells, NaN where empty; a non-numeric or infinite cell raises naming row and column."""
    filled = np.where(cells == "", "nan", cells).astype(str)
    try:
        values = filled.astype(np.float64)
    except ValueError:
        values = np.vectorize(_to_float, otypes=[np.float64])(filled)
    bad = np.isinf(values)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(
            f"coordinate {cells[r, c]!r} is not a finite number",
            file=path,
            entry=f"row {line_numbers[r]} ({images[r]}), column {'/'.join(columns[c][1:])}",
        )
    return values


def _to_float(s: str) -> float:
    """``float(s)``, or infinity (reported as not finite) when ``s`` is not a number."""
    try:
        return float(s)
    except ValueError:
        return math.inf


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain lists/tuples/strings/numbers only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> None:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _attr(node: h5py.HLObject, key: str, path: Path) -> object:
    raw = node.attrs.get(key)
    if raw is None:
        raise DataError(f"pandas HDF5 attribute '{key}' missing", file=path, entry=node.name, hint=_H5_HINT)
    try:
        return _DataOnlyUnpickler(io.BytesIO(bytes(raw)), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DataError(f"cannot read pandas attribute '{key}' ({e})", file=path, entry=node.name, hint=_H5_HINT) from None


def read_h5_table(path: Path) -> LabelTable:
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except OSError as e:
        raise DataError(f"not a readable HDF5 file ({e})", file=path) from None
    with f:
        groups = [g for g in f.values() if isinstance(g, h5py.Group) and "pandas_type" in g.attrs]
        if len(groups) != 1:
            raise DataError(f"expected one pandas DataFrame, found {len(groups)}", file=path, hint=_H5_HINT)
        g = groups[0]
        kind = g.attrs["pandas_type"].decode() if isinstance(g.attrs["pandas_type"], bytes) else str(g.attrs["pandas_type"])
        if kind != "frame_table" or "table" not in g:
            raise DataError(f"pandas HDF5 layout '{kind}' is not supported (only DeepLabCut's 'frame_table')", file=path, entry=g.name, hint=_H5_HINT)
        info = _attr(g, "info", path)
        index_cols = _attr(g, "index_cols", path)
        blocks = _attr(g, "values_cols", path)
        table = g["table"][()]
        fields = table.dtype.names or ()
        names = info.get(1, {}).get("names") if isinstance(info, dict) else None
        if index_cols != [(0, "index")] or "index" not in fields or table.dtype["index"].kind != "S" or not isinstance(names, list):
            raise DataError("only a string image index and MultiIndex columns are supported", file=path, entry=g.name, hint=_H5_HINT)
        columns: list[tuple[str, ...]] = []
        parts = []
        for b in blocks if isinstance(blocks, list) else []:
            labels = _attr(g["table"], f"{b}_kind", path)
            block = np.asarray(table[b], np.float64).reshape(len(table), -1) if b in fields else None
            if block is None or not isinstance(labels, list) or len(labels) != block.shape[1] or any(len(c) != len(names) for c in labels):
                raise DataError(f"values block '{b}' does not match its column labels", file=path, entry=g.name, hint=_H5_HINT)
            columns += [tuple(str(v) for v in c) for c in labels]
            parts.append(block)
    images = [s.decode("utf-8") for s in table["index"]]
    values = np.concatenate(parts, axis=1) if parts else np.zeros((len(images), 0))
    if np.isinf(values).any():
        r, c = (int(v) for v in np.argwhere(np.isinf(values))[0])
        raise DataError("coordinate is infinite", file=path, entry=f"row {images[r]}, column {'/'.join(columns[c][1:])}")
    return _table(path, tuple(str(n) for n in names), columns, images, values)


def _table(path: Path, levels: tuple[str, ...], columns: list[tuple[str, ...]], images: list[str], values: np.ndarray) -> LabelTable:
    """Arrange the flat columns into the (rows, individuals, bodyparts, xy) grid."""
    if levels not in (SINGLE_LEVELS, MULTI_LEVELS):
        raise DataError(f"column levels are {', '.join(levels)}", file=path, entry="header", hint=_HEADER_HINT)
    multi = levels == MULTI_LEVELS
    cols = [(c[1], c[2], c[3]) if multi else ("", c[1], c[2]) for c in columns]
    seen: set[tuple[str, str, str]] = set()
    for ind, bp, coord in cols:
        if (ind, bp, coord) in seen:
            raise DataError(f"column {'/'.join(p for p in (ind, bp, coord) if p)} appears twice", file=path, entry="header")
        seen.add((ind, bp, coord))
        if not bp:
            raise DataError("a column has no bodypart name", file=path, entry="header")
    ignored = sorted({c for _, _, c in cols if c not in ("x", "y")})
    xy_cols = [(j, c) for j, c in enumerate(cols) if c[2] in ("x", "y")]
    unique_cols = [j for j, c in xy_cols if c[0] == UNIQUE_INDIVIDUAL and multi]
    animal_cols = [(j, c) for j, c in xy_cols if not (c[0] == UNIQUE_INDIVIDUAL and multi)]
    individuals = list(dict.fromkeys(c[0] for _, c in animal_cols))
    bodyparts = list(dict.fromkeys(c[1] for _, c in animal_cols))
    if not bodyparts:
        raise DataError("no x/y columns of any bodypart", file=path, entry="header", hint=_HEADER_HINT)
    for _, (ind, bp, _) in xy_cols:
        if (ind, bp, "x") not in seen or (ind, bp, "y") not in seen:
            raise DataError(f"bodypart '{bp}' has only one of its x/y columns", file=path, entry=f"header {ind}".strip())
    twice = [im for im, n in Counter(images).items() if n > 1]
    if twice:
        raise DataError("image listed in two rows", file=path, entry=f"row {twice[0]}")
    ii = {n: i for i, n in enumerate(individuals)}
    kk = {n: i for i, n in enumerate(bodyparts)}
    src = np.array([j for j, _ in animal_cols], np.int64)
    ind_idx = np.array([ii[c[0]] for _, c in animal_cols], np.int64)
    bp_idx = np.array([kk[c[1]] for _, c in animal_cols], np.int64)
    xy_idx = np.array([c[2] == "y" for _, c in animal_cols], np.int64)
    xy = np.full((len(images), len(individuals), len(bodyparts), 2), np.nan)
    xy[:, ind_idx, bp_idx, xy_idx] = values[:, src]
    unique_names = list(dict.fromkeys(cols[j][1] for j in unique_cols))
    col_of = {c: j for j, c in xy_cols}
    ux = [col_of[(UNIQUE_INDIVIDUAL, n, "x")] for n in unique_names]
    uy = [col_of[(UNIQUE_INDIVIDUAL, n, "y")] for n in unique_names]
    unique_labelled = int((np.isfinite(values[:, ux]) & np.isfinite(values[:, uy])).sum()) if unique_names else 0
    return LabelTable(path, images, individuals, bodyparts, xy, multi, unique_names, unique_labelled, ignored)


# ------------------------------------------------------------------------ converting
def collect(
    tables: list[LabelTable], resolve: Callable[[LabelTable, str], tuple[Path, str]], report: ConversionReport
) -> Collected:
    """Instances of every table: one per (row, individual) with a labelled point; empty rows dropped.

    ``resolve(table, image)`` gives a row's image file and its name under ``images/``.
    """
    first = tables[0]
    for t in tables[1:]:
        if t.bodyparts != first.bodyparts:
            raise DataError(f"bodyparts {t.bodyparts} differ from {first.source}'s {first.bodyparts}", file=t.source, entry="header")
    files: list[Path] = []
    names: list[str] = []
    rows, kps, vis = [], [], []
    for t in tables:
        finite = np.isfinite(t.xy)
        labelled = finite.all(axis=-1)  # (R, I, K)
        half = int((finite.any(axis=-1) & ~labelled).sum())
        if half:
            report.warnings.append(f"{t.source}: {half} points with only one of x/y set were treated as unlabelled")
        if t.unique_bodyparts:
            report.warnings.append(
                f"{t.source}: unique bodyparts {', '.join(t.unique_bodyparts)} (individual '{UNIQUE_INDIVIDUAL}') are not converted; "
                f"{t.unique_labelled} labelled points dropped"
            )
        if t.ignored_coords:
            report.warnings.append(f"{t.source}: columns {', '.join(t.ignored_coords)} ignored (only x/y are labels)")
        r, i = np.nonzero(labelled.any(axis=-1))
        kept = np.unique(r)
        for row in np.setdiff1d(np.arange(len(t.images)), kept):
            report.drop(f"{t.source}: {t.images[row]}", "no labelled keypoints")
        row_of = np.full(len(t.images), -1, np.int64)
        row_of[kept] = np.arange(len(kept)) + len(files)
        for row in kept:
            f, name = resolve(t, t.images[row])
            files.append(f)
            names.append(name)
        rows.append(row_of[r])
        kps.append(np.where(labelled[r, i][..., None], t.xy[r, i], 0.0))
        vis.append(labelled[r, i].astype(np.uint8) * 2)
    if not files:
        raise DataError("no labelled frames: every row is empty", file=first.source if len(tables) == 1 else report.source)
    visibility = np.concatenate(vis)
    report.derived["visibility (labelled -> 2)"] += int((visibility > 0).sum())
    unlabelled = int((visibility == 0).sum())
    if unlabelled:
        report.defaulted["unlabelled keypoint -> 0,0,0"] += unlabelled
    widths, heights = image_sizes(files, entries=names)
    return Collected(
        image_files=files,
        file_names=names,
        widths=widths,
        heights=heights,
        ann_image_rows=np.concatenate(rows),
        keypoints=np.concatenate(kps).astype(np.float32),
        visibility=visibility,
    )
