"""Dataset validator: every problem of a COCO keypoints file at once, as findings.

The file is read by the same parse path as ``load_coco`` (``pose.data.coco_parse``, which
tolerates malformed entries), but where the loader stops at the first problem the validator
reports them all. Its tables: images, instances (one row per annotation) and keypoints (one
row per annotation x keypoint). A pandera schema checks types
and values on those tables (lazily, collecting every failure); vectorised semantic checks then
cover what a schema cannot see: references between tables, images on disk, keypoints and boxes
inside the image, counts, duplicates and left/right consistency (``pose.data.leftright``).

Severity: an *error* makes the file unusable or wrong for training/evaluation; a *warning*
is derivable (missing area, ...) or suspicious (left/right swaps). ``pose data validate`` exits
1 when there is any error, else 0.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pose.data.coco import read_json, resolve_image_path
from pose.data.coco_parse import AnnotationTable, CategoryTable, CocoTables, Column, ImageTable, KeypointProblem, is_int, top_level_problem
from pose.data.image import read_image, read_image_size
from pose.data.layout import resolve_source
from pose.data.leftright import oriented_pairs, save_flip_check, suspect_swaps
from pose.data.meta import DatasetMeta, load_meta, meta_from_coco_category
from pose.errors import DataError
from pose.fileio import write_json

Severity = Literal["error", "warning"]

#: check name -> (severity, what it means). The report groups findings by these names.
CHECKS: dict[str, tuple[Severity, str]] = {
    "not_coco": ("error", "not a COCO keypoints file"),
    "bad_entry": ("error", "entry is not a JSON object"),
    "field_type": ("error", "required field missing or of the wrong type"),
    "bad_value": ("error", "value out of range"),
    "duplicate_id": ("error", "id used more than once"),
    "meta_missing": ("error", "no dataset meta and none can be drafted: keypoint count unknown"),
    "meta_invalid": ("error", "dataset meta cannot be loaded"),
    "keypoint_count": ("error", "categories and meta disagree on the keypoint count"),
    "skeleton": ("error", "category skeleton is 0-based or out of range (COCO is 1-based)"),
    "image_path": ("error", "file_name is absolute or escapes the image root"),
    "image_missing": ("error", "image file not found"),
    "image_unreadable": ("error", "image file corrupt, truncated or not an image"),
    "image_size_mismatch": ("error", "image file size differs from width/height"),
    "image_ref": ("error", "annotation image_id is not in images"),
    "category_ref": ("error", "annotation category_id is not in categories"),
    "keypoint_length": ("error", "keypoints is not a flat list of 3*K numbers"),
    "non_finite": ("error", "NaN or infinite value"),
    "visibility": ("error", "visibility is not 0, 1 or 2"),
    "keypoint_outside": ("error", "labelled keypoint outside the image"),
    "bbox_invalid": ("error", "bbox is not [x, y, w, h] with w, h > 0"),
    "no_bbox_no_keypoints": ("error", "no bbox and no labelled keypoint to derive one from"),
    "duplicate_annotation": ("error", "same image, identical bbox and keypoints"),
    "bbox_outside": ("warning", "bbox extends outside the image (clipped at load)"),
    "num_keypoints": ("warning", "num_keypoints differs from the labelled count (recomputed at load)"),
    "missing_bbox": ("warning", "no bbox (derived from keypoints at load)"),
    "missing_area": ("warning", "no area (bbox area at load)"),
    "missing_iscrowd": ("warning", "no iscrowd (0 at load)"),
    "missing_num_keypoints": ("warning", "no num_keypoints (counted at load)"),
    "category_keypoints": ("warning", "category lists no keypoint names (the meta's are used)"),
    "keypoint_names": ("warning", "category keypoint names differ from the meta's"),
    "meta_drafted": ("warning", "no dataset meta given: drafted from the categories"),
    "image_unannotated": ("warning", "image has no annotations"),
    "lr_swap": ("warning", "left/right labels look swapped"),
}

#: A labelled keypoint may lie this many pixels outside the image before it is reported.
KEYPOINT_TOL_PX = 1.0
#: A bbox may overshoot the image by this fraction of the image side (at least 1 px).
BBOX_TOL = 0.01
IMAGE_THREADS = 8


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    entry: str
    message: str


def finding(check: str, entry: str, message: str) -> Finding:
    return Finding(check, CHECKS[check][0], entry, message)


@dataclass(frozen=True)
class FlipSample:
    """One well-labelled instance for the flip-check picture."""

    entry: str
    keypoints: np.ndarray  # (K, 2)
    visibility: np.ndarray  # (K,)
    bbox: np.ndarray  # (4,) xyxy
    image_path: Path | None
    image_size: tuple[int, int]


@dataclass
class ValidationReport:
    """All findings for one annotation file, plus what is needed to draw the flip check."""

    source: str
    image_root: str | None
    findings: list[Finding]
    counts: dict[str, int] = field(default_factory=dict)
    meta: DatasetMeta | None = field(default=None, repr=False)
    sample: FlipSample | None = field(default=None, repr=False)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 1 if self.has_errors else 0

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """check -> {severity, count}, errors first."""
        counts = Counter((f.check, f.severity) for f in self.findings)
        order = sorted(counts, key=lambda cs: (cs[1] != "error", list(CHECKS).index(cs[0])))
        return {c: {"severity": s, "count": counts[(c, s)]} for c, s in order}

    def checks(self) -> set[str]:
        return {f.check for f in self.findings}

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "image_root": self.image_root,
            "meta": None if self.meta is None else self.meta.name,
            "counts": self.counts,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "findings": [asdict(f) for f in self.findings],
        }

    def save(self, path: str | Path) -> Path | None:
        """Write the JSON report, and ``<stem>_flipcheck.png`` beside it when a sample exists."""
        path = Path(path)
        pic = self.save_flip_check(path.with_name(f"{path.stem}_flipcheck.png"))
        out = self.to_json()
        out["flip_check"] = None if pic is None else pic.name
        write_json(path, out, indent=2)
        return pic

    def save_flip_check(self, path: str | Path) -> Path | None:
        """The flip-check picture of the sample instance; None when there is no meta or sample."""
        if self.meta is None or self.sample is None:
            return None
        s = self.sample
        return save_flip_check(path, self.meta, s.keypoints, s.visibility, s.bbox, image_path=s.image_path, image_size=s.image_size)

    def print(self, console: Console | None = None, *, examples: int = 3) -> None:
        """A table grouped by check: severity, count, the first few entries and one message."""
        console = console or Console()
        t = Table(title=f"validate {self.source}", show_lines=False)
        for col in ("check", "severity", "count", "first entries", "example"):
            t.add_column(col, justify="right" if col == "count" else "left", overflow="fold")
        groups: dict[tuple[str, str], list[Finding]] = {}
        for f in self.findings:
            groups.setdefault((f.check, f.severity), []).append(f)
        for (check, sev), fs in ((k, groups[k]) for k in ((c, v["severity"]) for c, v in self.summary.items())):
            style = "red" if sev == "error" else "yellow"
            first = list(dict.fromkeys(f.entry for f in fs))
            entries = ", ".join(first[:examples]) + (" ..." if len(first) > examples else "")
            t.add_row(check, f"[{style}]{sev}[/]", str(len(fs)), escape(entries), escape(fs[0].message))
        if self.findings:
            console.print(t)
        c = self.counts
        verdict = "[red]FAILED[/]" if self.has_errors else "[green]OK[/]"
        console.print(
            f"{verdict}: {len(self.errors)} errors, {len(self.warnings)} warnings in "
            f"{c.get('images', 0)} images, {c.get('annotations', 0)} annotations ({self.seconds:.2f} s)"
        )


# ------------------------------------------------------------------------ tables as frames
def _bad_entries(d: dict[str, Any], t: CocoTables) -> list[Finding]:
    """Entries of the three lists that are not objects."""
    out = []
    for rows in (t.images.rows, t.annotations.rows, t.categories.rows):
        items = d[rows.name]
        out += [finding("bad_entry", f"{rows.name}[{i}]", f"expected an object, got {type(items[i]).__name__}") for i in rows.others().tolist()]
    return out


def _ints(c: Column) -> pd.Series:
    return pd.Series(pd.arrays.IntegerArray(c.values, ~c.ok))


def _messages(n: int, rows: np.ndarray, say: Callable[[int], str]) -> np.ndarray:
    """(n,) object array: ``say(r)`` at ``rows``, None elsewhere."""
    out = np.full(n, None, dtype=object)
    for r in rows.tolist():
        out[r] = say(r)
    return out


def _image_frame(t: ImageTable) -> pd.DataFrame:
    df = pd.DataFrame({"id": _ints(t.id), "file_name": pd.Series(t.file_name, dtype=object), "width": _ints(t.width), "height": _ints(t.height)})
    df["entry"] = t.rows.entries(t.id)
    return df


def _category_frame(t: CategoryTable) -> pd.DataFrame:
    names_ok = [n is None or (isinstance(n, list) and all(isinstance(x, str) for x in n)) for n in t.names]
    df = pd.DataFrame(
        {
            "id": _ints(t.id),
            "n_names": [len(n) if ok and n else 0 for n, ok in zip(t.names, names_ok)],
            "names_problem": pd.Series([None if ok else f"keypoints must be a list of names, got {str(n)[:60]}" for n, ok in zip(t.names, names_ok)], dtype=object),
        }
    )
    df["entry"] = t.rows.entries(t.id)
    return df


def _field_problems(t: AnnotationTable) -> np.ndarray:
    """The first of: iscrowd / num_keypoints not an integer, area not a number (None where none)."""
    n = len(t.rows)
    out = np.full(n, None, dtype=object)
    for key, col, what in (("area", t.area, "a number"), ("num_keypoints", t.num_keypoints, "an integer"), ("iscrowd", t.iscrowd, "an integer")):
        raw = t.rows.get(key)
        for r in np.flatnonzero(col.present & ~col.ok).tolist():
            out[r] = f"{key} must be {what}, got {raw[r]!r}"[:80]
    return out


def _instance_frame(t: AnnotationTable) -> pd.DataFrame:
    n = len(t.rows)
    df = pd.DataFrame({"id": _ints(t.id), "image_id": _ints(t.image_id), "category_id": _ints(t.category_id)})
    df["entry"] = t.rows.entries(t.id)
    for key, col in (("iscrowd", t.iscrowd), ("num_keypoints", t.num_keypoints)):
        df[key], df[f"has_{key}"] = _ints(col), col.present
    df["area"], df["has_area"] = t.area.values, t.area.present
    df["field_problem"] = pd.Series(_field_problems(t), dtype=object)
    box = t.bbox
    df["has_bbox"] = box.present
    for j, key in enumerate(("bx", "by", "bw", "bh")):
        df[key] = box.values[:, j]
    raw = t.rows.get("bbox")
    df["bbox_problem"] = pd.Series(_messages(n, np.flatnonzero(box.present & ~box.ok), lambda r: f"bbox must be [x, y, w, h] numbers, got {str(raw[r])[:60]}"), dtype=object)
    bad_box = box.ok & ~np.isfinite(box.values).all(axis=1)
    bad_area = t.area.ok & ~np.isfinite(t.area.values)
    df["finite_problem"] = pd.Series(np.where(bad_box, "bbox has NaN or infinite values", np.where(bad_area, "area is NaN or infinite", None)), dtype=object)
    return df


def _keypoint_problem(p: KeypointProblem | None, k: int) -> str | None:
    if p is None:
        return None
    if p.kind == "missing":
        return "no keypoints"
    if p.kind == "type":
        return f"keypoints must be a list, got {p.got}"
    if p.kind == "number":
        return f"keypoints must be numbers, got {p.got!r}"[:80]
    v = p.got
    nested = bool(v) and all(isinstance(t, list) for t in v)
    what = f"{len(v)} nested lists (COCO wants a flat [x1, y1, v1, x2, ...])" if nested else f"{len(v)} values" + (f" = {len(v) // 3} keypoints" if len(v) % 3 == 0 else "")
    return f"expected {3 * k} values ({k} keypoints x [x, y, v]), got {what}"


def _keypoint_array(t: AnnotationTable, k: int | None) -> tuple[np.ndarray, list[str | None]]:
    """(N, K, 3) float64 (NaN rows where malformed) and a problem message per annotation."""
    if k is None:
        return np.full((len(t.rows), 0, 3), np.nan), [None] * len(t.rows)
    kp, problems = t.keypoints(k)
    return kp, [_keypoint_problem(p, k) for p in problems]


# ------------------------------------------------------------------------ pandera schema
def _isna(name: str) -> pa.Check:
    return pa.Check(lambda s: s.isna(), name=name)


def _na_or(name: str, fn: Callable[[pd.Series], pd.Series]) -> pa.Check:
    return pa.Check(lambda s: s.isna() | fn(s), name=name)


_UNIQUE = pa.Check(lambda s: s.isna() | ~s.duplicated(keep=False), name="duplicate_id")
_FINITE = pa.Check(lambda s: np.isfinite(s), name="non_finite")

IMAGE_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column("Int64", _UNIQUE, nullable=False),
        "file_name": pa.Column(object, nullable=False),
        "width": pa.Column("Int64", _na_or("bad_value", lambda s: s > 0), nullable=False),
        "height": pa.Column("Int64", _na_or("bad_value", lambda s: s > 0), nullable=False),
    }
)
CATEGORY_SCHEMA = pa.DataFrameSchema(
    {"id": pa.Column("Int64", _UNIQUE, nullable=False), "names_problem": pa.Column(object, _isna("field_type"), nullable=True)}
)
INSTANCE_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column("Int64", _UNIQUE, nullable=False),
        "image_id": pa.Column("Int64", nullable=False),
        "category_id": pa.Column("Int64", nullable=False),
        "iscrowd": pa.Column("Int64", _na_or("bad_value", lambda s: s.isin([0, 1])), nullable=True),
        "num_keypoints": pa.Column("Int64", _na_or("bad_value", lambda s: s >= 0), nullable=True),
        "area": pa.Column(float, _na_or("bad_value", lambda s: ~np.isfinite(s) | (s >= 0)), nullable=True),
        "bw": pa.Column(float, _na_or("bbox_invalid", lambda s: ~np.isfinite(s) | (s > 0)), nullable=True),
        "bh": pa.Column(float, _na_or("bbox_invalid", lambda s: ~np.isfinite(s) | (s > 0)), nullable=True),
        "finite_problem": pa.Column(object, _isna("non_finite"), nullable=True),
        "field_problem": pa.Column(object, _isna("field_type"), nullable=True),
        "bbox_problem": pa.Column(object, _isna("bbox_invalid"), nullable=True),
        "keypoints_problem": pa.Column(object, _isna("keypoint_length"), nullable=True),
    }
)
KEYPOINT_SCHEMA = pa.DataFrameSchema(
    {
        "x": pa.Column(float, _FINITE),
        "y": pa.Column(float, _FINITE),
        "v": pa.Column(float, [_FINITE, pa.Check(lambda s: ~np.isfinite(s) | s.isin([0, 1, 2]), name="visibility")]),
    }
)
_TYPES = {"id": "an integer", "image_id": "an integer", "category_id": "an integer", "width": "an integer", "height": "an integer", "file_name": "a non-empty string"}


def _schema_findings(schema: pa.DataFrameSchema, df: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases (check, column, failure_case, index), one row per check and row."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        fc = fc[fc["index"].notna()].drop_duplicates(["check", "column", "index"])
        return fc.assign(index=fc["index"].astype(np.int64))
    return pd.DataFrame(columns=["check", "column", "failure_case", "index"])


def _table_findings(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[Finding]:
    out = []
    for check, col, case, idx in _schema_findings(schema, df)[["check", "column", "failure_case", "index"]].itertuples(index=False):
        entry = df["entry"].iat[idx]
        if check == "not_nullable":
            out.append(finding("field_type", entry, f"'{col}' is missing or not {_TYPES.get(col, 'valid')}"))
        elif col.endswith("_problem"):
            out.append(finding(check, entry, str(case)))
        else:
            field_name = {"bw": "bbox width", "bh": "bbox height", "bx": "bbox x", "by": "bbox y"}.get(col, col)
            out.append(finding(check, entry, f"{field_name} = {case}: {CHECKS[check][1]}"))
    return out


def _keypoint_findings(kp: np.ndarray, rows: np.ndarray, entries: np.ndarray, names: list[str]) -> list[Finding]:
    """Schema failures of the long keypoint table, one finding per annotation and check."""
    k = kp.shape[1]
    sub = kp[rows].reshape(-1, 3)
    long = pd.DataFrame({"x": sub[:, 0], "y": sub[:, 1], "v": sub[:, 2]})
    fc = _schema_findings(KEYPOINT_SCHEMA, long)
    if fc.empty:
        return []
    fc = fc.assign(ann=rows[fc["index"].to_numpy() // k], kpt=fc["index"].to_numpy() % k, check=fc["check"].replace("not_nullable", "non_finite"))
    out = []
    for (check, ann), g in fc.groupby(["check", "ann"], sort=True):
        kpts = sorted(set(g["kpt"].tolist()))
        which = ", ".join(names[j] if j < len(names) else str(j) for j in kpts[:4]) + (" ..." if len(kpts) > 4 else "")
        values = ", ".join(str(v) for v in g["failure_case"].tolist()[:4])
        out.append(finding(check, f"{entries[ann]}.keypoints", f"{CHECKS[check][1]} at {which} (got {values})"))
    return out


# ------------------------------------------------------------------------ meta and K
def _draft_meta(cat: dict[str, Any], source: str) -> DatasetMeta:
    try:
        return meta_from_coco_category(cat, source=source)
    except DataError:
        return meta_from_coco_category({**cat, "skeleton": []}, source=source)


def _resolve_meta(
    cats: pd.DataFrame, cat_recs: list[dict[str, Any]], meta: DatasetMeta | None, kp_lengths: list[int], source: str, findings: list[Finding]
) -> tuple[DatasetMeta | None, int | None]:
    """The meta to check against (given or drafted) and the keypoint count K."""
    named = cats[cats["n_names"] > 0]
    for i in np.flatnonzero((cats["n_names"] == 0).to_numpy()):
        if meta is not None or len(named):
            findings.append(finding("category_keypoints", cats["entry"].iat[i], CHECKS["category_keypoints"][1]))
    if meta is not None:
        for i in range(len(named)):
            row = named.iloc[i]
            rec = cat_recs[named.index[i]]
            if row["n_names"] != meta.num_keypoints:
                findings.append(finding("keypoint_count", row["entry"], f"lists {row['n_names']} keypoint names, the meta '{meta.name}' {meta.num_keypoints}"))
            elif list(rec["keypoints"]) != meta.keypoint_names:
                diff = [(a, b) for a, b in zip(rec["keypoints"], meta.keypoint_names) if a != b]
                findings.append(finding("keypoint_names", row["entry"], f"{len(diff)} names differ from the meta's, e.g. '{diff[0][0]}' vs '{diff[0][1]}'"))
        return meta, meta.num_keypoints
    if len(named):
        k = int(named["n_names"].iat[0])
        for i in np.flatnonzero((named["n_names"] != k).to_numpy()):
            findings.append(finding("keypoint_count", named["entry"].iat[i], f"lists {named['n_names'].iat[i]} keypoint names, {named['entry'].iat[0]} lists {k}"))
        try:
            drafted = _draft_meta(cat_recs[named.index[0]], source)
        except DataError as e:
            findings.append(finding("meta_missing", named["entry"].iat[0], f"cannot draft a meta: {e.message}"))
            return None, k
        findings.append(finding("meta_drafted", named["entry"].iat[0], f"no meta given: drafted '{drafted.name}' ({k} keypoints, {len(drafted.flip_pairs)} flip pairs from names); pass --meta to check against the real one"))
        return drafted, k
    lengths = Counter(n for n in kp_lengths if n > 0 and n % 3 == 0)
    k_guess = lengths.most_common(1)[0][0] // 3 if lengths else None
    guess = f"; annotations suggest K={k_guess}" if k_guess else ""
    findings.append(finding("meta_missing", "categories", f"no meta given and no category lists keypoint names{guess}: pass --meta META"))
    return None, k_guess


def _skeleton_findings(cat_recs: list[dict[str, Any]], cats: pd.DataFrame, k: int | None) -> list[Finding]:
    out = []
    for rec, entry, n_names in zip(cat_recs, cats["entry"], cats["n_names"]):
        skel = rec.get("skeleton")
        if not skel:
            continue
        flat = [v for link in skel if isinstance(link, list) and len(link) == 2 for v in link]
        if len(flat) != 2 * len(skel) or not all(is_int(v) for v in flat):
            out.append(finding("skeleton", f"{entry}.skeleton", "each link must be a pair of integer keypoint indices"))
            continue
        kk = n_names or k
        if 0 in flat:
            out.append(finding("skeleton", f"{entry}.skeleton", "contains 0: the skeleton looks 0-based (COCO skeletons are 1-based)"))
        if kk and (min(flat) < 0 or max(flat) > kk):
            out.append(finding("skeleton", f"{entry}.skeleton", f"index {max(flat) if max(flat) > kk else min(flat)} outside 1..{kk}"))
    return out


# ------------------------------------------------------------------------ images on disk
def _probe(root: Path, file_name: str, width: int, height: int, decode: bool, source: str, entry: str) -> Finding | None:
    """One image: path inside the root, file present, header readable, size as declared."""
    try:
        path = resolve_image_path(root, file_name, source=source, entry=entry)
    except DataError as e:
        return finding("image_path", entry, e.message)
    try:
        present = path.is_file()
    except OSError as e:  # e.g. a name longer than the file system allows
        return finding("image_missing", entry, f"{file_name[:80]}... cannot be looked up under {root} ({e.strerror})")
    if not present:
        return finding("image_missing", entry, f"{file_name} not found under {root}")
    try:
        w, h = read_image_size(path, entry=entry)
        if decode:
            read_image(path, entry=entry)
        elif (problem := _truncated(path)) is not None:
            return finding("image_unreadable", entry, f"{file_name}: {problem}")
    except DataError as e:
        return finding("image_unreadable", entry, f"{file_name}: {e.message}")
    if (w, h) != (width, height):
        return finding("image_size_mismatch", entry, f"{file_name} is {w}x{h}, annotated as {width}x{height}")
    return None


def _truncated(path: Path) -> str | None:
    """Cheap end-of-file check (JPEG EOI / PNG IEND marker in the last bytes) without decoding."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(max(0, size - 64))
        tail = f.read()
    if head[:2] == b"\xff\xd8" and b"\xff\xd9" not in tail:
        return "JPEG is truncated (no end-of-image marker)"
    if head == b"\x89PNG\r\n\x1a\n" and b"IEND" not in tail:
        return "PNG is truncated (no IEND chunk)"
    return None


def _image_findings(images: pd.DataFrame, root: Path, decode: bool, source: str) -> tuple[list[Finding], set[int]]:
    """Findings and the rows of images that are usable (present, readable, right size)."""
    ok = images["id"].notna() & images["file_name"].notna() & images["width"].notna() & images["height"].notna()
    rows = np.flatnonzero(ok.to_numpy())
    args = [(root, images["file_name"].iat[r], int(images["width"].iat[r]), int(images["height"].iat[r]), decode, source, images["entry"].iat[r]) for r in rows]
    with ThreadPoolExecutor(max_workers=min(IMAGE_THREADS, (os.cpu_count() or 1) * 4)) as ex:
        results = list(ex.map(lambda a: _probe(*a), args))
    good = {int(r) for r, f in zip(rows, results) if f is None}
    return [f for f in results if f is not None], good


# ------------------------------------------------------------------------ annotation semantics
def _semantic_findings(inst: pd.DataFrame, images: pd.DataFrame, cats: pd.DataFrame, kp: np.ndarray, kp_ok: np.ndarray, names: list[str]) -> list[Finding]:
    out: list[Finding] = []
    entries = inst["entry"].to_numpy()
    img = images[images["id"].notna()].drop_duplicates("id").set_index("id")
    has_img = inst["image_id"].isin(img.index).to_numpy() & inst["image_id"].notna().to_numpy()
    for r in np.flatnonzero(inst["image_id"].notna().to_numpy() & ~has_img):
        out.append(finding("image_ref", entries[r], f"image_id {inst['image_id'].iat[r]} is not in images"))
    cat_ids = cats["id"].dropna()
    for r in np.flatnonzero(inst["category_id"].notna().to_numpy() & ~inst["category_id"].isin(cat_ids).to_numpy()):
        out.append(finding("category_ref", entries[r], f"category_id {inst['category_id'].iat[r]} is not in categories"))

    W = inst["image_id"].map(img["width"]).astype("Float64").to_numpy(np.float64, na_value=np.nan)
    H = inst["image_id"].map(img["height"]).astype("Float64").to_numpy(np.float64, na_value=np.nan)
    vis = kp[..., 2]
    lab = kp_ok[:, None] & (vis > 0) & np.isfinite(kp).all(axis=2)
    x, y = kp[..., 0], kp[..., 1]
    with np.errstate(invalid="ignore"):
        off = lab & ((x < -KEYPOINT_TOL_PX) | (y < -KEYPOINT_TOL_PX) | (x > W[:, None] + KEYPOINT_TOL_PX) | (y > H[:, None] + KEYPOINT_TOL_PX))
    for r in np.flatnonzero(off.any(axis=1)):
        js = np.flatnonzero(off[r])
        pts = ", ".join(f"{names[j] if j < len(names) else j} ({x[r, j]:.1f}, {y[r, j]:.1f})" for j in js[:3])
        out.append(finding("keypoint_outside", entries[r], f"{pts}{' ...' if len(js) > 3 else ''} outside the {W[r]:.0f}x{H[r]:.0f} image (set v=0 or fix)"))

    box = inst[["bx", "by", "bw", "bh"]].to_numpy(np.float64)
    tx, ty = np.maximum(1.0, BBOX_TOL * W), np.maximum(1.0, BBOX_TOL * H)
    with np.errstate(invalid="ignore"):
        valid_box = np.isfinite(box).all(axis=1) & (box[:, 2] > 0) & (box[:, 3] > 0)
        outside = valid_box & ((box[:, 0] < -tx) | (box[:, 1] < -ty) | (box[:, 0] + box[:, 2] > W + tx) | (box[:, 1] + box[:, 3] > H + ty))
    for r in np.flatnonzero(outside):
        b = box[r]
        out.append(finding("bbox_outside", entries[r], f"bbox [{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}] extends outside the {W[r]:.0f}x{H[r]:.0f} image"))

    n_lab = lab.sum(axis=1)
    no_box = ~inst["has_bbox"].to_numpy()
    for r in np.flatnonzero(no_box & kp_ok & (n_lab == 0)):
        out.append(finding("no_bbox_no_keypoints", entries[r], CHECKS["no_bbox_no_keypoints"][1]))
    for key in ("bbox", "area", "iscrowd", "num_keypoints"):
        miss = ~inst[f"has_{key}"].to_numpy()
        if key == "bbox":
            miss &= ~(kp_ok & (n_lab == 0))
        for r in np.flatnonzero(miss):
            out.append(finding(f"missing_{key}", entries[r], f"no {key}: {CHECKS[f'missing_{key}'][1].split('(')[1].rstrip(')')}"))

    nk = inst["num_keypoints"].to_numpy(np.float64, na_value=np.nan)
    for r in np.flatnonzero(kp_ok & np.isfinite(nk) & (nk != n_lab) & np.isfinite(kp).all(axis=(1, 2))):
        out.append(finding("num_keypoints", entries[r], f"num_keypoints {int(nk[r])}, but {n_lab[r]} keypoints are labelled (v>0)"))

    out += _duplicate_findings(inst, kp_ok & valid_box & inst["image_id"].notna().to_numpy(), box, kp)
    used = set(inst["image_id"].dropna().tolist())
    for entry in images.loc[images["id"].notna() & ~images["id"].isin(used), "entry"]:
        out.append(finding("image_unannotated", entry, CHECKS["image_unannotated"][1]))
    return out


def _duplicate_findings(inst: pd.DataFrame, cand: np.ndarray, box: np.ndarray, kp: np.ndarray) -> list[Finding]:
    """Annotations (among ``cand``) with the same image, bbox and keypoints as an earlier one."""
    if cand.sum() <= 1:
        return []
    entries = inst["entry"].to_numpy()
    rows = np.flatnonzero(cand)
    table = pd.DataFrame(np.concatenate([inst["image_id"].to_numpy(np.float64, na_value=np.nan)[rows, None], box[rows], kp[rows].reshape(len(rows), -1)], axis=1))
    key = pd.util.hash_pandas_object(table, index=False).to_numpy()
    first = pd.Series(rows).groupby(key).transform("first").to_numpy()
    return [finding("duplicate_annotation", entries[r], f"same image, bbox and keypoints as {entries[f]}") for r, f in zip(rows, first) if r != f]


def _swap_findings(kp: np.ndarray, kp_ok: np.ndarray, entries: np.ndarray, meta: DatasetMeta) -> list[Finding]:
    rows = np.flatnonzero(kp_ok & np.isfinite(kp).all(axis=(1, 2)))
    out = []
    vis = np.where(np.isin(kp[rows, :, 2], (1, 2)), kp[rows, :, 2], 0).astype(np.uint8)
    for s in suspect_swaps(kp[rows, :, :2], vis, meta):
        if s.kind == "pair" and s.pair is not None:
            eg = ", ".join(entries[rows[r]] for r in s.rows[:3])
            out.append(finding("lr_swap", f"keypoints {meta.keypoint_names[s.pair[0]]}/{meta.keypoint_names[s.pair[1]]}", f"{s.message}; e.g. {eg}"))
        else:
            out.extend(finding("lr_swap", entries[rows[r]], s.message) for r in s.rows)
    return out


def _flip_sample(inst: pd.DataFrame, images: pd.DataFrame, good_images: set[int] | None, kp: np.ndarray, kp_ok: np.ndarray, meta: DatasetMeta, root: Path, source: str) -> FlipSample | None:
    """The instance with the most labelled keypoints (and labelled flip pairs) on a usable image."""
    if len(kp) == 0 or not kp_ok.any() or len(meta.flip_pairs) == 0:
        return None
    img = images[images["id"].notna()].drop_duplicates("id")
    row_of = pd.Series(img.index.to_numpy(), index=img["id"].to_numpy())
    img_row = inst["image_id"].map(row_of).to_numpy(np.float64, na_value=np.nan)
    fin = np.isfinite(kp).all(axis=2)
    lab = kp_ok[:, None] & fin & np.isin(kp[..., 2], (1, 2))
    pairs = meta.flip_pairs
    score = lab.sum(axis=1) + 100 * (lab[:, pairs[:, 0]] & lab[:, pairs[:, 1]]).sum(axis=1)
    usable = kp_ok & fin.all(axis=1) & np.isfinite(img_row) & (lab.sum(axis=1) > 0)
    if good_images is not None:
        usable &= np.isin(np.nan_to_num(img_row, nan=-1).astype(np.int64), list(good_images))
    if not usable.any():
        return None
    r = int(np.argmax(np.where(usable, score, -1)))
    ir = int(img_row[r])
    w, h = int(images["width"].iat[ir]), int(images["height"].iat[ir])
    pts = kp[r, :, :2][lab[r]]
    box = np.array([inst["bx"].iat[r], inst["by"].iat[r], inst["bx"].iat[r] + inst["bw"].iat[r], inst["by"].iat[r] + inst["bh"].iat[r]])
    if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        box = np.concatenate([pts.min(axis=0), pts.max(axis=0)])
    path = None
    if good_images is not None:
        path = resolve_image_path(root, images["file_name"].iat[ir], source=source)
    vis = np.where(lab[r], kp[r, :, 2], 0).astype(np.uint8)
    return FlipSample(str(inst["entry"].iat[r]), np.nan_to_num(kp[r, :, :2]).astype(np.float32), vis, box.astype(np.float32), path, (w, h))


# ------------------------------------------------------------------------ entry points
def validate(
    ann_path: str | Path, image_root: str | Path, meta: DatasetMeta | None, *, check_images: bool = True, decode: bool = False
) -> ValidationReport:
    """Check one COCO keypoints file (and its images) and return every finding.

    Raises ``DataError`` only when the file itself cannot be read; anything wrong inside it,
    including a JSON that is not COCO at all, is a finding.
    """
    t0 = time.perf_counter()
    ann_path, root = Path(ann_path), Path(image_root)
    source = str(ann_path)
    if not ann_path.is_file():
        raise DataError("annotation file not found", file=ann_path)
    findings: list[Finding] = []
    report = ValidationReport(source, str(root), findings, meta=meta)
    try:
        d = read_json(ann_path)
    except DataError as e:
        findings.append(finding("not_coco", "<top>", e.message))
        return _done(report, t0)
    problem = top_level_problem(d)
    if problem is not None:
        kind, what = problem
        have = ", ".join(list(d)[:5]) if isinstance(d, dict) else ""
        message = f"top level is a {what}, expected an object with images/annotations/categories" if kind == "type" else f"no list '{what}' (top-level keys: {have})"
        findings.append(finding("not_coco", "<top>", f"not a COCO keypoints file: {message}"))
        return _done(report, t0)
    _check_tables(report, d, root, check_images=check_images, decode=decode)
    return _done(report, t0)


def _check_tables(report: ValidationReport, d: dict[str, Any], root: Path, *, check_images: bool, decode: bool) -> None:
    """Every finding of a COCO object that has the three lists, added to ``report``."""
    findings, source = report.findings, report.source
    tables = CocoTables.read(d)
    findings += _bad_entries(d, tables)
    images, cats, inst = _image_frame(tables.images), _category_frame(tables.categories), _instance_frame(tables.annotations)
    report.counts = {"images": len(images), "annotations": len(inst), "categories": len(cats)}
    if not len(images):
        findings.append(finding("not_coco", "images", "no images: the dataset is empty"))

    cat_recs = tables.categories.rows.recs
    kp_lengths = [len(v) if isinstance(v, list) else -1 for v in tables.annotations.rows.get("keypoints")]
    meta, k = _resolve_meta(cats, cat_recs, report.meta, kp_lengths, source, findings)
    report.meta = meta
    report.counts["keypoints"] = k or 0
    kp, kp_problems = _keypoint_array(tables.annotations, k)
    inst["keypoints_problem"] = pd.Series(kp_problems, dtype=object)
    kp_ok = inst["keypoints_problem"].isna().to_numpy() & (k is not None)
    names = meta.keypoint_names if meta is not None else [str(j) for j in range(k or 0)]

    findings += _table_findings(IMAGE_SCHEMA, images)
    findings += _table_findings(CATEGORY_SCHEMA, cats)
    findings += _table_findings(INSTANCE_SCHEMA, inst)
    findings += _skeleton_findings(cat_recs, cats, k)
    entries = inst["entry"].to_numpy()
    if k:
        findings += _keypoint_findings(kp, np.flatnonzero(kp_ok), entries, names)
    good = None
    if check_images:
        img_findings, good = _image_findings(images, root, decode, source)
        findings += img_findings
    findings += _semantic_findings(inst, images, cats, kp, kp_ok, names)
    if meta is not None and k:
        findings += _swap_findings(kp, kp_ok, entries, meta)
        report.sample = _flip_sample(inst, images, good, kp, kp_ok, meta, root, source)


def _done(report: ValidationReport, t0: float) -> ValidationReport:
    order = {c: i for i, c in enumerate(CHECKS)}
    report.findings.sort(key=lambda f: (f.severity != "error", order[f.check]))
    report.seconds = time.perf_counter() - t0
    return report


def validate_source(
    path: str | Path,
    *,
    split: str = "train",
    images: str | Path | None = None,
    meta: str | Path | None = None,
    check_images: bool = True,
    decode: bool = False,
) -> ValidationReport:
    """``pose data validate``: a dataset folder (and split) or a loose COCO file with its images.

    A meta that cannot be loaded is a finding (the rest is still checked against a draft).
    """
    src = resolve_source(path, split=split, images=images, meta=meta)
    loaded: DatasetMeta | None = None
    meta_problem: Finding | None = None
    if src.meta is not None:
        try:
            loaded = load_meta(src.meta)
        except DataError as e:
            meta_problem = finding("meta_invalid", str(src.meta), e.message)
    report = validate(src.annotations, src.images, loaded, check_images=check_images, decode=decode)
    if meta_problem is not None:
        report.findings.insert(0, meta_problem)
    return report
