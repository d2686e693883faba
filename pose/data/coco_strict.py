"""The strict loader's judgement of a COCO keypoints file: its first problem, as a ``DataError``.

``load_coco`` stops at the first problem (``pose data validate`` reports all of them). The file
is read by ``pose.data.coco_parse`` into tables; the checks below walk those tables in a fixed
order (top level, categories, images, annotation ids and references, keypoints, the other
annotation fields) and raise on the first problem, naming the file and the entry. Within one
step, the first entry at fault wins and, within that entry, the first check it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pose.data.coco_parse import (
    AnnotationTable,
    CategoryTable,
    CocoTables,
    Column,
    ImageTable,
    Section,
    file_name_problem,
    first_failure,
    floats,
    most_common_duplicate,
    top_level_problem,
)
from pose.errors import DataError

HINT = "run `pose data validate` for a full report"


@dataclass(eq=False)
class CheckedCoco:
    """A COCO object without problems: its tables, keypoint count and (N, K, 3) keypoints."""

    tables: CocoTables
    k: int
    keypoints: np.ndarray  # (N, K, 3) float64, zeros where an annotation has none
    scores: Column | None  # when every annotation has a ``score`` (results in the GT layout)
    missing_keypoints: int


def check_coco(d: Any, *, source: str, num_keypoints: int | None = None, allow_empty: bool = False) -> CheckedCoco:
    """Raise the first problem of the COCO object ``d``; return what was read when there is none."""
    check_top_level(d, source=source)
    if not d["images"] and not allow_empty:
        raise DataError("no images: the dataset is empty", file=source, entry="images")
    t = CocoTables.read(d)
    k = _check_categories(t.categories, source, num_keypoints)
    _check_images(t.images, source)
    _check_annotation_ids(t, source)
    kp, missing = _check_keypoints(t.annotations, k, source)
    rows = t.annotations.rows
    scores = floats(rows.get("score")) if len(rows) and rows.has("score").all() else None
    _check_fields(t.annotations, scores, source)
    _check_derivable(t.annotations, kp, source)
    return CheckedCoco(t, k, kp, scores, missing)


def check_top_level(d: Any, *, source: str) -> None:
    """Raise unless ``d`` is an object with ``images``, ``annotations`` and ``categories`` lists."""
    problem = top_level_problem(d)
    if problem is None:
        return
    kind, what = problem
    if kind == "type":
        raise DataError(f"expected a COCO object with images/annotations/categories, got a JSON {what}", file=source, entry="<top>", hint=HINT)
    if kind == "missing":
        raise DataError(f"missing '{what}'", file=source, entry="<top>", hint=HINT)
    raise DataError(f"'{what}' must be a list", file=source, entry=what, hint=HINT)


def _repeated(ids: Column) -> np.ndarray:
    """Integer ids seen before in the list (every occurrence after the first)."""
    out = ids.ok.copy()
    ok = np.flatnonzero(ids.ok)
    _, first = np.unique(ids.values[ok], return_index=True)
    out[ok[first]] = False
    return out


# ------------------------------------------------------------------------ categories and images
def _check_categories(t: CategoryTable, source: str, num_keypoints: int | None) -> int:
    """The keypoint count K: from the categories' keypoint names, which must agree, or the meta's."""
    named = np.array([bool(n) for n in t.names], bool)
    names_ok = np.array([isinstance(n, list) and all(isinstance(x, str) for x in n) for n in t.names], bool)
    lengths = np.array([len(n) if ok else 0 for n, ok in zip(t.names, names_ok)], np.int64)
    valid = named & names_ok
    k_cat = int(lengths[valid][0]) if valid.any() else None
    hit = t.rows.first_failing([~t.id.ok, _repeated(t.id), named & ~names_ok, valid & (lengths != (k_cat or 0))])
    if hit is not None:
        pos, check, row = hit
        if check <= 1:
            raise DataError("category needs an integer 'id'", file=source, entry=f"categories[{pos}]", hint=HINT)
        entry = f"categories[id={t.id.values[row]}]"
        if check == 2:
            raise DataError("duplicate category id", file=source, entry=entry, hint=HINT)
        if check == 3:
            raise DataError("keypoints must be a list of names", file=source, entry=f"{entry}.keypoints", hint=HINT)
        raise DataError(f"{lengths[row]} keypoints, but another category has {k_cat}", file=source, entry=entry, hint="split the file per category")
    if num_keypoints is not None and k_cat is not None and num_keypoints != k_cat:
        raise DataError(f"categories define {k_cat} keypoints, the meta {num_keypoints}", file=source, entry="categories", hint="pass the meta that matches this file")
    k = num_keypoints if num_keypoints is not None else k_cat
    if k is None:
        raise DataError("no category lists keypoint names, so the keypoint count is unknown", file=source, entry="categories", hint="pass --meta META.yaml")
    return k


def _check_images(t: ImageTable, source: str) -> None:
    sized = t.width.ok & t.height.ok & (t.width.values > 0) & (t.height.values > 0)
    unnamed = np.array([f is None for f in t.file_name], bool)
    hit = t.rows.first_failing([~t.id.ok, unnamed, ~sized])
    if hit is not None:
        pos, check, row = hit
        if check == 0:
            raise DataError("image entry must be an object", file=source, entry=f"images[{pos}]", hint=HINT)
        rec = t.rows.recs[row]
        if check == 1:
            raise DataError(f"image id must be an integer, got {rec.get('id')!r}", file=source, entry=f"images[{pos}]", hint=HINT)
        entry = f"images[id={t.id.values[row]}]"
        if check == 2:
            raise DataError("missing file_name", file=source, entry=entry, hint=HINT)
        w, h = rec.get("width"), rec.get("height")
        raise DataError(f"width/height must be positive integers, got {w!r}x{h!r}", file=source, entry=f"{entry} {t.file_name[row]}", hint=HINT)
    dup = most_common_duplicate(t.id.values)
    if dup is not None:
        raise DataError("duplicate image id", file=source, entry=f"images[id={dup}]", hint=HINT)
    for image_id, name in zip(t.id.values.tolist(), t.file_name):
        problem = file_name_problem(name)
        if problem:
            raise DataError(problem, file=source, entry=f"images[id={image_id}]", hint="file names are relative to the image root")


# ------------------------------------------------------------------------ annotations
def _check_annotation_ids(t: CocoTables, source: str) -> None:
    a = t.annotations
    keys = ("id", "image_id", "category_id")
    hit = a.rows.first_failing([~a.id.ok, ~a.image_id.ok, ~a.category_id.ok])
    if hit is not None:
        pos, check, row = hit
        if check == 0:
            raise DataError("annotation must be an object", file=source, entry=f"annotations[{pos}]", hint=HINT)
        rec, key = a.rows.recs[row], keys[check - 1]
        entry = f"annotations[{pos}]" if key == "id" else f"annotations[id={rec.get('id')}]"
        raise DataError(f"'{key}' must be an integer, got {rec.get(key)!r}", file=source, entry=entry, hint=HINT)
    ids = a.id.values
    dup = most_common_duplicate(ids)
    if dup is not None:
        raise DataError("duplicate annotation id", file=source, entry=f"annotations[id={dup}]", hint=HINT)
    for col, known, what in ((a.image_id, t.images.id, "images"), (a.category_id, t.categories.id, "categories")):
        missing = ~np.isin(col.values, known.values)
        if missing.any():
            r = int(np.argmax(missing))
            key = "image_id" if what == "images" else "category_id"
            raise DataError(f"{key} {col.values[r]} is not in {what}", file=source, entry=f"annotations[id={ids[r]}]", hint=HINT)


def _check_keypoints(a: AnnotationTable, k: int, source: str) -> tuple[np.ndarray, int]:
    """(N, K, 3) keypoints (zeros where an annotation has none) and how many had none."""
    kp, problems = a.keypoints(k)
    kinds = [p.kind if p is not None else "" for p in problems]

    def fail(kind: tuple[str, ...]) -> int | None:
        return next((r for r, x in enumerate(kinds) if x in kind), None)

    def raise_at(r: int, message: str) -> None:
        raise DataError(message, file=source, entry=f"annotations[id={a.id.values[r]}].keypoints", hint=HINT)

    if (r := fail(("type", "length"))) is not None:
        got = problems[r].got  # type: ignore[union-attr]
        raise_at(r, f"expected {3 * k} values (K={k} x [x, y, v]), got {len(got) if isinstance(got, list) else got}")
    if (r := fail(("number",))) is not None:
        raise_at(r, "keypoints must be numbers")
    missing = np.array([x == "missing" for x in kinds], bool)
    kp[missing] = 0.0
    bad = ~np.isfinite(kp).all(axis=(1, 2))
    if bad.any():
        raise_at(int(np.argmax(bad)), "NaN or infinite keypoint value")
    vis = kp[..., 2]
    bad = ~np.isin(vis, (0, 1, 2)).all(axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise_at(r, f"visibility must be 0, 1 or 2, got {sorted(set(vis[r].tolist()) - {0, 1, 2})}")
    return kp, int(missing.sum())


def _check_fields(a: AnnotationTable, scores: Column | None, source: str) -> None:
    """iscrowd, bbox, area and (results in the GT layout) score of each annotation, in that order."""
    crowd, box, area = a.iscrowd, a.bbox, a.area
    finite = np.isfinite(box.values).all(axis=1)
    w, h = box.values[:, 2], box.values[:, 3]
    checks = [
        crowd.present & ~(crowd.ok & np.isin(crowd.values, (0, 1))),
        box.present & ~box.ok,
        box.present & box.ok & ~finite,
        box.present & box.ok & finite & ((w <= 0) | (h <= 0)),
        area.present & ~(area.ok & np.isfinite(area.values) & (area.values >= 0)),
        np.zeros(len(a.rows), bool) if scores is None else ~(scores.ok & np.isfinite(scores.values)),
    ]
    hit = first_failure(checks)
    if hit is not None:
        r, check = hit
        key, message = _field_problem(a.rows.recs[r], check)
        raise DataError(message, file=source, entry=f"annotations[id={a.id.values[r]}].{key}", hint=HINT)


def _field_problem(rec: dict[str, Any], check: int) -> tuple[str, str]:
    """(field, message) for failed check ``check`` of ``_check_fields`` on annotation ``rec``."""
    if check == 0:
        return "iscrowd", f"iscrowd must be 0 or 1, got {rec.get('iscrowd')!r}"
    b = rec.get("bbox")
    if check == 1:
        return "bbox", f"bbox must be [x, y, w, h] numbers, got {b!r}"
    if check == 2:
        return "bbox", "NaN or infinite bbox value"
    if check == 3:
        return "bbox", f"bbox has zero or negative size ({b[2]}x{b[3]})"
    if check == 4:
        return "area", f"area must be a non-negative number, got {rec.get('area')!r}"
    return "score", f"score must be a number, got {rec.get('score')!r}"


def _check_derivable(a: AnnotationTable, kp: np.ndarray, source: str) -> None:
    """An annotation without a bbox needs a labelled keypoint to derive one from."""
    bad = ~a.bbox.present & ~(kp[..., 2] > 0).any(axis=1)
    if bad.any():
        r = int(np.argmax(bad))
        raise DataError("no bbox and no labelled keypoints to derive one from", file=source, entry=f"annotations[id={a.id.values[r]}]", hint=HINT)
