"""The one parse path of COCO JSON: raw lists of objects -> typed columns, without judging them.

A COCO keypoints file (``images``, ``annotations``, ``categories``) and a COCO results list are
read here into numpy columns, each with a mask of the entries that hold a value of the right
type. Three readers judge those columns: the strict loader (``pose.data.coco_strict``, the first
problem raises a ``DataError``), the validator (``pose.data.validate``, a pandera schema reports
every problem) and results parsing (``pose.evaluation.coco``). This module raises nothing;
each judge words its own findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

SECTIONS = ("images", "annotations", "categories")


def is_int(v: Any) -> bool:
    """A JSON integer that fits int64 (``true``/``false`` are not integers)."""
    return type(v) is int and -(2**63) <= v < 2**63


_NUMBER_TYPES = frozenset((int, float))


def is_num(v: Any) -> bool:
    """A JSON number (int or float, NaN and infinities included; booleans excluded)."""
    return type(v) in _NUMBER_TYPES


class Column(NamedTuple):
    """One field over N entries: ``values`` (0 / NaN where not ``ok``), ``ok`` (a value of the
    right type) and ``present`` (the field is there and not null)."""

    values: np.ndarray
    ok: np.ndarray
    present: np.ndarray


def _present(raw: list[Any]) -> np.ndarray:
    return np.fromiter((v is not None for v in raw), bool, len(raw))


def ints(raw: list[Any]) -> Column:
    """int64 values of the entries that are integers (0 elsewhere)."""
    ok = np.fromiter((type(v) is int for v in raw), bool, len(raw))
    data = np.zeros(len(raw), np.int64)
    if ok.any():
        values = [v for v, o in zip(raw, ok) if o]
        try:
            data[ok] = np.array(values, dtype=np.int64)
        except OverflowError:  # an integer beyond int64 is no integer here (see is_int)
            ok[ok] = np.fromiter((is_int(v) for v in values), bool, len(values))
            data[ok] = np.array([v for v, o in zip(raw, ok) if o], dtype=np.int64)
    return Column(data, ok, _present(raw))


def floats(raw: list[Any]) -> Column:
    """float64 values of the entries that are numbers (NaN elsewhere)."""
    ok = np.fromiter((is_num(v) for v in raw), bool, len(raw))
    data = np.full(len(raw), np.nan)
    if ok.any():
        data[ok] = np.array([v for v, o in zip(raw, ok) if o], dtype=np.float64)
    return Column(data, ok, _present(raw))


def boxes(raw: list[Any]) -> Column:
    """(N, 4) float64 ``[x, y, w, h]`` of the entries that are lists of four numbers (NaN elsewhere)."""
    n = len(raw)
    ok = np.fromiter((type(b) is list and len(b) == 4 and {*map(type, b)} <= _NUMBER_TYPES for b in raw), bool, n)
    xywh = np.full((n, 4), np.nan)
    if ok.any():
        xywh[ok] = np.array([b for b, o in zip(raw, ok) if o], dtype=np.float64)
    return Column(xywh, ok, _present(raw))


class KeypointProblem(NamedTuple):
    """Why one entry's flat ``[x, y, v, ...]`` list was not read: ``missing`` (null or absent),
    ``type`` (not a list; ``got`` is the JSON type name), ``length`` (``got`` is the list) or
    ``number`` (``got`` is the first value that is not a number)."""

    kind: Literal["missing", "type", "length", "number"]
    got: Any


def keypoint_rows(raw: list[Any], k: int) -> tuple[np.ndarray, list[KeypointProblem | None]]:
    """(N, K, 3) float64 from flat lists of ``3 * k`` numbers (NaN rows where not read) and the
    problem of each entry (None where read)."""
    n = len(raw)
    problems: list[KeypointProblem | None] = [None] * n
    kp = np.full((n, k, 3), np.nan)
    good = []
    for i, v in enumerate(raw):
        if v is None:
            problems[i] = KeypointProblem("missing", None)
        elif not isinstance(v, list):
            problems[i] = KeypointProblem("type", type(v).__name__)
        elif len(v) != 3 * k:
            problems[i] = KeypointProblem("length", v)
        else:
            good.append(i)
    if not good:
        return kp, problems
    try:
        arr = np.asarray([raw[i] for i in good])
        if arr.dtype.kind not in "fiu":  # strings or None would otherwise be cast silently
            raise TypeError(arr.dtype)
        kp[good] = arr.astype(np.float64).reshape(-1, k, 3)
    except (TypeError, ValueError):
        for i in good:
            bad = [x for x in raw[i] if not is_num(x)]
            if bad:
                problems[i] = KeypointProblem("number", bad[0])
            else:
                kp[i] = np.asarray(raw[i], np.float64).reshape(k, 3)
    return kp, problems


# ------------------------------------------------------------------------ sections and tables
@dataclass(eq=False)
class Section:
    """The object entries of one JSON list (``recs``), their positions in it (``pos``) and its length."""

    name: str
    recs: list[dict[str, Any]]
    pos: np.ndarray
    size: int

    @classmethod
    def of(cls, name: str, items: list[Any]) -> Section:
        keep = [i for i, x in enumerate(items) if isinstance(x, dict)]
        return cls(name, [items[i] for i in keep], np.asarray(keep, np.int64), len(items))

    def __len__(self) -> int:
        return len(self.recs)

    def get(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.recs]

    def has(self, key: str) -> np.ndarray:
        """Entries where ``key`` is there at all (null included)."""
        return np.fromiter((key in r for r in self.recs), bool, len(self.recs))

    def others(self) -> np.ndarray:
        """Positions of the entries that are not objects."""
        mask = np.ones(self.size, bool)
        mask[self.pos] = False
        return np.flatnonzero(mask)

    def spread(self, mask: np.ndarray) -> np.ndarray:
        """A per-object mask as a mask over every position of the list (False at non-objects)."""
        out = np.zeros(self.size, bool)
        out[self.pos] = mask
        return out

    def first_failing(self, checks: Sequence[np.ndarray]) -> tuple[int, int, Any] | None:
        """``(position, check, row)`` of the first entry at fault: check 0 is "not an object"
        (row None), check ``i`` is ``checks[i - 1]`` failing on the object at ``row``."""
        hit = first_failure([~self.spread(np.ones(len(self), bool)), *(self.spread(c) for c in checks)])
        if hit is None:
            return None
        pos, check = hit
        return pos, check, None if check == 0 else int(np.searchsorted(self.pos, pos))

    def entries(self, ids: Column) -> np.ndarray:
        """Per object: ``images[id=3]``, or ``images[7]`` (its position) where the id is not an integer."""
        return np.array([f"{self.name}[id={i}]" if o else f"{self.name}[{p}]" for i, o, p in zip(ids.values.tolist(), ids.ok.tolist(), self.pos.tolist())], dtype=object)


@dataclass(eq=False)
class ImageTable:
    """``images``: id, file_name, width, height."""

    rows: Section
    id: Column
    file_name: list[str | None]  # None where absent, empty or not a string
    width: Column
    height: Column

    @classmethod
    def read(cls, rows: Section) -> ImageTable:
        names = [f if isinstance(f, str) and f else None for f in rows.get("file_name")]
        return cls(rows, ints(rows.get("id")), names, ints(rows.get("width")), ints(rows.get("height")))


@dataclass(eq=False)
class CategoryTable:
    """``categories``: id and the raw keypoint names."""

    rows: Section
    id: Column
    names: list[Any]  # the raw ``keypoints`` of each category

    @classmethod
    def read(cls, rows: Section) -> CategoryTable:
        return cls(rows, ints(rows.get("id")), rows.get("keypoints"))


@dataclass(eq=False)
class AnnotationTable:
    """``annotations``: ids, references and the optional fields; keypoints once K is known."""

    rows: Section
    id: Column
    image_id: Column
    category_id: Column
    iscrowd: Column  # JSON true/false read as 1/0
    num_keypoints: Column
    area: Column
    bbox: Column  # (N, 4) xywh

    @classmethod
    def read(cls, rows: Section) -> AnnotationTable:
        crowd = [int(v) if type(v) is bool else v for v in rows.get("iscrowd")]
        ids = [ints(rows.get(key)) for key in ("id", "image_id", "category_id")]
        return cls(rows, *ids, ints(crowd), ints(rows.get("num_keypoints")), floats(rows.get("area")), boxes(rows.get("bbox")))

    def keypoints(self, k: int) -> tuple[np.ndarray, list[KeypointProblem | None]]:
        return keypoint_rows(self.rows.get("keypoints"), k)


@dataclass(eq=False)
class CocoTables:
    """A COCO keypoints object read into one table per section."""

    images: ImageTable
    annotations: AnnotationTable
    categories: CategoryTable

    @classmethod
    def read(cls, d: dict[str, Any]) -> CocoTables:
        """``d`` must hold the three lists (see ``top_level_problem``)."""
        return cls(
            ImageTable.read(Section.of("images", d["images"])),
            AnnotationTable.read(Section.of("annotations", d["annotations"])),
            CategoryTable.read(Section.of("categories", d["categories"])),
        )


def top_level_problem(d: Any) -> tuple[Literal["type", "missing", "not_list"], str] | None:
    """Why ``d`` is not an object with the three COCO lists: ``("type", JSON type name)``, or
    ``("missing" | "not_list", key)`` for the first key at fault; None when it is one."""
    if not isinstance(d, dict):
        return "type", type(d).__name__
    for key in SECTIONS:
        if key not in d:
            return "missing", key
        if not isinstance(d[key], list):
            return "not_list", key
    return None


# ------------------------------------------------------------------------ helpers for judges
def first_failure(checks: Sequence[np.ndarray]) -> tuple[int, int] | None:
    """``(row, check)``: the first row failing any of the (N,) masks and, at that row, the first
    check that fails; None when no row fails."""
    if not checks:
        return None
    m = np.stack(checks)
    failing = m.any(axis=0)
    if not failing.any():
        return None
    row = int(np.argmax(failing))
    return row, int(np.argmax(m[:, row]))


def most_common_duplicate(ids: np.ndarray) -> int | None:
    """The id used most often when some id is used more than once, else None."""
    if len(np.unique(ids)) == len(ids):
        return None
    return int(Counter(ids.tolist()).most_common(1)[0][0])


def file_name_problem(file_name: object) -> str | None:
    """Why ``file_name`` may not be used under an image root (absolute, ``..``), or None."""
    if not isinstance(file_name, str) or not file_name:
        return "file_name must be a non-empty string"
    if "\x00" in file_name:
        return "file_name contains a NUL byte"
    norm = file_name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return f"absolute file_name '{file_name}' is not allowed"
    if ".." in norm.split("/"):
        return f"file_name '{file_name}' escapes the image root"
    return None
