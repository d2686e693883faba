"""COCO keypoints I/O: one file <-> arrays (bbox xyxy, keypoints (N, K, 2), visibility (N, K)).

COCO's xywh boxes and flat ``[x, y, v, ...]`` keypoints exist only at the file boundary.
Loading is strict: the first structural problem raises a ``DataError`` naming the file and the
entry (``pose data validate`` reports all problems at once). Values COCO lets a file omit but
that can be derived (area, iscrowd, num_keypoints, a bbox from labelled keypoints) are filled
and counted in ``CocoData.filled``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pose.errors import DataError, PoseError
from pose.fileio import write_json

#: Boxes derived from keypoints are padded by this fraction of their size on each side.
BOX_MARGIN = 0.1
#: ... and by at least this many pixels.
BOX_MIN_PAD = 4.0


@dataclass(eq=False)
class CocoData:
    """A COCO keypoints file in arrays. Row ``i`` of every ``ann_*`` array is annotation ``i``."""

    image_ids: np.ndarray  # (M,) int64
    file_names: list[str]
    widths: np.ndarray  # (M,) int64
    heights: np.ndarray  # (M,) int64
    ann_ids: np.ndarray  # (N,) int64
    ann_image_ids: np.ndarray  # (N,) int64
    category_ids: np.ndarray  # (N,) int64
    bboxes: np.ndarray  # (N, 4) float32 xyxy
    keypoints: np.ndarray  # (N, K, 2) float32
    visibility: np.ndarray  # (N, K) uint8
    iscrowd: np.ndarray  # (N,) bool
    areas: np.ndarray  # (N,) float32
    categories: list[dict[str, Any]]
    image_root: Path | None = None
    source: str = "<memory>"
    scores: np.ndarray | None = None  # (N,) float32, results files only
    filled: Counter[str] = field(default_factory=Counter)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_keypoints(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def num_labelled(self) -> np.ndarray:
        """(N,) count of keypoints with visibility > 0 (COCO's ``num_keypoints``)."""
        return (self.visibility > 0).sum(axis=1)

    def __len__(self) -> int:
        return len(self.ann_ids)

    def image_index(self) -> dict[int, int]:
        """image id -> row in the image arrays."""
        return {int(i): r for r, i in enumerate(self.image_ids)}

    def ann_rows_by_image(self) -> dict[int, np.ndarray]:
        """image id -> rows of its annotations (every image present, possibly empty)."""
        order = np.argsort(self.ann_image_ids, kind="stable")
        ids, starts = np.unique(self.ann_image_ids[order], return_index=True)
        groups = np.split(order, starts[1:]) if len(order) else []
        out = {int(i): np.zeros(0, np.int64) for i in self.image_ids}
        out.update({int(i): g for i, g in zip(ids, groups)})
        return out

    def image_path(self, row: int) -> Path:
        """Path of image ``row`` under the image root; never outside it."""
        if self.image_root is None:
            raise DataError("no image root given", file=self.source, hint="pass --images DIR")
        return resolve_image_path(self.image_root, self.file_names[row], source=self.source, entry=f"images[id={self.image_ids[row]}]")

    def fingerprint(self) -> str:
        """sha256 of the labels and of each image file's (name, size, mtime): what a resumed
        training run must share with the run that wrote its checkpoint. Stats only, no reads."""
        h = hashlib.sha256()
        for a in (self.image_ids, self.ann_ids, self.ann_image_ids, self.category_ids, self.bboxes, self.keypoints, self.visibility, self.iscrowd):
            h.update(np.ascontiguousarray(a).tobytes())
        for row, name in enumerate(self.file_names):
            h.update(name.encode("utf-8", "surrogateescape") + b"\0")
            if self.image_root is not None:
                with contextlib.suppress(OSError, PoseError):
                    st = self.image_path(row).stat()
                    h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def subset(self, ann_rows: np.ndarray, *, keep_all_images: bool = True) -> CocoData:
        """A copy with only the given annotation rows (and, optionally, only their images)."""
        rows = np.asarray(ann_rows, dtype=np.int64)
        img_keep = np.ones(len(self.image_ids), bool) if keep_all_images else np.isin(self.image_ids, self.ann_image_ids[rows])
        return CocoData(
            image_ids=self.image_ids[img_keep],
            file_names=[f for f, k in zip(self.file_names, img_keep) if k],
            widths=self.widths[img_keep],
            heights=self.heights[img_keep],
            ann_ids=self.ann_ids[rows],
            ann_image_ids=self.ann_image_ids[rows],
            category_ids=self.category_ids[rows],
            bboxes=self.bboxes[rows],
            keypoints=self.keypoints[rows],
            visibility=self.visibility[rows],
            iscrowd=self.iscrowd[rows],
            areas=self.areas[rows],
            categories=self.categories,
            image_root=self.image_root,
            source=self.source,
            scores=None if self.scores is None else self.scores[rows],
            info=dict(self.info),
        )

    def to_json(self) -> dict[str, Any]:
        """The COCO dict: xywh boxes, flat keypoints, COCO's integer visibility."""
        xywh = np.round(xyxy_to_xywh(self.bboxes).astype(np.float64), 4)
        kp = np.concatenate([self.keypoints.astype(np.float64), self.visibility[..., None].astype(np.float64)], axis=2)
        kp[self.visibility == 0, :2] = 0.0
        kp = np.round(kp, 4)
        nkp = self.num_labelled
        images = [
            {"id": int(i), "file_name": f, "width": int(w), "height": int(h)}
            for i, f, w, h in zip(self.image_ids, self.file_names, self.widths, self.heights)
        ]
        anns = []
        for r in range(len(self.ann_ids)):
            flat = kp[r].reshape(-1).tolist()
            a = {
                "id": int(self.ann_ids[r]),
                "image_id": int(self.ann_image_ids[r]),
                "category_id": int(self.category_ids[r]),
                "bbox": xywh[r].tolist(),
                "area": round(float(self.areas[r]), 4),
                "iscrowd": int(self.iscrowd[r]),
                "num_keypoints": int(nkp[r]),
                "keypoints": [int(v) if j % 3 == 2 else v for j, v in enumerate(flat)],
            }
            if self.scores is not None:
                a["score"] = round(float(self.scores[r]), 6)
            anns.append(a)
        out: dict[str, Any] = {}
        if self.info:
            out["info"] = self.info
        out.update({"images": images, "annotations": anns, "categories": self.categories})
        return out


# ------------------------------------------------------------------------ helpers
def xyxy_to_xywh(b: np.ndarray) -> np.ndarray:
    out = np.array(b, dtype=np.float32, copy=True)
    out[..., 2:] -= out[..., :2]
    return out


def xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    out = np.array(b, dtype=np.float32, copy=True)
    out[..., 2:] += out[..., :2]
    return out


def boxes_from_keypoints(
    keypoints: np.ndarray,
    visibility: np.ndarray,
    *,
    margin: float = BOX_MARGIN,
    min_pad: float = BOX_MIN_PAD,
    widths: np.ndarray | None = None,
    heights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) xyxy around the labelled keypoints, padded, optionally clipped to the image.

    Returns the boxes and a (N,) mask of instances that had at least one labelled keypoint.
    """
    lab = visibility > 0
    has = lab.any(axis=1)
    big = np.float32(np.inf)
    x = np.where(lab, keypoints[..., 0], big)
    y = np.where(lab, keypoints[..., 1], big)
    x0, y0 = x.min(axis=1), y.min(axis=1)
    x = np.where(lab, keypoints[..., 0], -big)
    y = np.where(lab, keypoints[..., 1], -big)
    x1, y1 = x.max(axis=1), y.max(axis=1)
    box = np.stack([x0, y0, x1, y1], axis=1)
    box[~has] = 0
    size = box[:, 2:] - box[:, :2]
    pad = np.maximum(size * margin, min_pad)
    box[:, :2] -= pad
    box[:, 2:] += pad
    if widths is not None and heights is not None:
        box[:, [0, 2]] = np.clip(box[:, [0, 2]], 0, np.asarray(widths, np.float32)[:, None])
        box[:, [1, 3]] = np.clip(box[:, [1, 3]], 0, np.asarray(heights, np.float32)[:, None])
    box[~has] = 0
    return box.astype(np.float32), has


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


def resolve_image_path(root: Path, file_name: str, *, source: str = "<coco>", entry: str = "images") -> Path:
    """``root / file_name``, refusing absolute names, ``..`` escapes and symlinks out of the root."""
    problem = file_name_problem(file_name)
    if problem:
        raise DataError(problem, file=source, entry=entry, hint="file names are relative to the image root")
    path = root / Path(*PurePosixPath(file_name.replace("\\", "/")).parts)
    root_real = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != root_real and not real.startswith(root_real.rstrip(os.sep) + os.sep):
        raise DataError(f"file_name '{file_name}' resolves outside the image root (symlink?)", file=source, entry=entry)
    return path


def read_json(path: str | Path) -> Any:
    """JSON from a file, with one-line errors for missing files, bad UTF-8 and bad JSON."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except IsADirectoryError:
        raise DataError("is a folder, expected a JSON file", file=path) from None
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror})", file=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"not valid UTF-8 (byte {e.start})", file=path) from None
    if not text.strip():
        raise DataError("empty file, expected JSON", file=path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}", file=path) from None


# ------------------------------------------------------------------------ loading
def load_coco(
    path: str | Path,
    *,
    image_root: str | Path | None = None,
    num_keypoints: int | None = None,
    allow_empty: bool = False,
) -> CocoData:
    """Load a COCO keypoints file. ``image_root`` defaults to ``<file's folder>/../images``."""
    path = Path(path)
    d = read_json(path)
    root = Path(image_root) if image_root is not None else _default_root(path)
    return coco_from_dict(d, source=str(path), image_root=root, num_keypoints=num_keypoints, allow_empty=allow_empty)


def _default_root(path: Path) -> Path | None:
    cand = path.parent.parent / "images"
    return cand if path.parent.name == "annotations" and cand.is_dir() else path.parent


def check_top_level(d: Any, *, source: str) -> None:
    """Raise unless ``d`` is an object with ``images``, ``annotations`` and ``categories`` lists."""
    hint = "run `pose data validate` for a full report"
    if not isinstance(d, dict):
        raise DataError(f"expected a COCO object with images/annotations/categories, got a JSON {type(d).__name__}", file=source, entry="<top>", hint=hint)
    for key in ("images", "annotations", "categories"):
        if key not in d:
            raise DataError(f"missing '{key}'", file=source, entry="<top>", hint=hint)
        if not isinstance(d[key], list):
            raise DataError(f"'{key}' must be a list", file=source, entry=key, hint=hint)


def coco_from_dict(
    d: Any,
    *,
    source: str = "<memory>",
    image_root: Path | None = None,
    num_keypoints: int | None = None,
    allow_empty: bool = False,
) -> CocoData:
    src = source

    def err(entry: str, msg: str, hint: str | None = "run `pose data validate` for a full report") -> DataError:
        return DataError(msg, file=src, entry=entry, hint=hint)

    check_top_level(d, source=src)
    images, anns, cats = d["images"], d["annotations"], d["categories"]
    if not images and not allow_empty:
        raise err("images", "no images: the dataset is empty", hint=None)

    # categories ------------------------------------------------------------
    cat_ids: set[int] = set()
    k_cat: int | None = None
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or not _is_int(c.get("id")):
            raise err(f"categories[{i}]", "category needs an integer 'id'")
        if c["id"] in cat_ids:
            raise err(f"categories[id={c['id']}]", "duplicate category id")
        cat_ids.add(c["id"])
        names = c.get("keypoints")
        if names:
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise err(f"categories[id={c['id']}].keypoints", "keypoints must be a list of names")
            if k_cat is not None and len(names) != k_cat:
                raise err(f"categories[id={c['id']}]", f"{len(names)} keypoints, but another category has {k_cat}", hint="split the file per category")
            k_cat = len(names)
    if num_keypoints is not None and k_cat is not None and num_keypoints != k_cat:
        raise err("categories", f"categories define {k_cat} keypoints, the meta {num_keypoints}", hint="pass the meta that matches this file")
    k = num_keypoints if num_keypoints is not None else k_cat
    if k is None:
        raise err("categories", "no category lists keypoint names, so the keypoint count is unknown", hint="pass --meta META.yaml")

    # images ----------------------------------------------------------------
    m = len(images)
    image_ids = np.zeros(m, np.int64)
    widths = np.zeros(m, np.int64)
    heights = np.zeros(m, np.int64)
    file_names: list[str] = []
    for r, im in enumerate(images):
        if not isinstance(im, dict):
            raise err(f"images[{r}]", "image entry must be an object")
        iid = im.get("id")
        if not _is_int(iid):
            raise err(f"images[{r}]", f"image id must be an integer, got {iid!r}")
        fn = im.get("file_name")
        if not isinstance(fn, str) or not fn:
            raise err(f"images[id={iid}]", "missing file_name")
        w, h = im.get("width"), im.get("height")
        if not _is_int(w) or not _is_int(h) or w <= 0 or h <= 0:
            raise err(f"images[id={iid}] {fn}", f"width/height must be positive integers, got {w!r}x{h!r}")
        image_ids[r], widths[r], heights[r] = iid, w, h
        file_names.append(fn)
    if len(np.unique(image_ids)) != m:
        dup = Counter(image_ids.tolist()).most_common(1)[0][0]
        raise err(f"images[id={dup}]", "duplicate image id")
    for r, fn in enumerate(file_names):
        problem = file_name_problem(fn)
        if problem:
            raise err(f"images[id={image_ids[r]}]", problem, hint="file names are relative to the image root")

    # annotations -----------------------------------------------------------
    n = len(anns)
    filled: Counter[str] = Counter()
    for r, a in enumerate(anns):
        if not isinstance(a, dict):
            raise err(f"annotations[{r}]", "annotation must be an object")
        for key in ("id", "image_id", "category_id"):
            if not _is_int(a.get(key)):
                raise err(f"annotations[{r}]" if key == "id" else f"annotations[id={a.get('id')}]", f"'{key}' must be an integer, got {a.get(key)!r}")
    ann_ids = np.fromiter((a["id"] for a in anns), np.int64, n)
    ann_image_ids = np.fromiter((a["image_id"] for a in anns), np.int64, n)
    category_ids = np.fromiter((a["category_id"] for a in anns), np.int64, n)
    if len(np.unique(ann_ids)) != n:
        dup = Counter(ann_ids.tolist()).most_common(1)[0][0]
        raise err(f"annotations[id={dup}]", "duplicate annotation id")
    missing_img = ~np.isin(ann_image_ids, image_ids)
    if missing_img.any():
        r = int(np.argmax(missing_img))
        raise err(f"annotations[id={ann_ids[r]}]", f"image_id {ann_image_ids[r]} is not in images")
    missing_cat = ~np.isin(category_ids, np.fromiter(cat_ids, np.int64, len(cat_ids)))
    if missing_cat.any():
        r = int(np.argmax(missing_cat))
        raise err(f"annotations[id={ann_ids[r]}]", f"category_id {category_ids[r]} is not in categories")

    flat_kp: list[Any] = []
    for r, a in enumerate(anns):
        kp = a.get("keypoints")
        if kp is None:
            kp = [0.0] * (3 * k)
            filled["keypoints (none)"] += 1
        if not isinstance(kp, list) or len(kp) != 3 * k:
            got = len(kp) if isinstance(kp, list) else type(kp).__name__
            raise err(f"annotations[id={ann_ids[r]}].keypoints", f"expected {3 * k} values (K={k} x [x, y, v]), got {got}")
        flat_kp.append(kp)
    try:
        raw = np.asarray(flat_kp) if n else np.zeros((0, 3 * k))
        if raw.dtype.kind not in "iuf":  # strings or None would otherwise be cast silently
            raise TypeError(raw.dtype)
        kp_arr = raw.astype(np.float64).reshape(n, k, 3)
    except (TypeError, ValueError):
        r = next(r for r, kp in enumerate(flat_kp) if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in kp))
        raise err(f"annotations[id={ann_ids[r]}].keypoints", "keypoints must be numbers") from None
    bad = ~np.isfinite(kp_arr).all(axis=(1, 2))
    if bad.any():
        r = int(np.argmax(bad))
        raise err(f"annotations[id={ann_ids[r]}].keypoints", "NaN or infinite keypoint value")
    vis = kp_arr[..., 2]
    badv = ~np.isin(vis, (0, 1, 2)).all(axis=1)
    if badv.any():
        r = int(np.argmax(badv))
        raise err(f"annotations[id={ann_ids[r]}].keypoints", f"visibility must be 0, 1 or 2, got {sorted(set(vis[r].tolist()) - {0, 1, 2})}")
    visibility = vis.astype(np.uint8)
    keypoints = kp_arr[..., :2].astype(np.float32)
    keypoints[visibility == 0] = 0.0

    iscrowd = np.zeros(n, bool)
    areas = np.zeros(n, np.float32)
    bboxes = np.zeros((n, 4), np.float32)
    scores = np.zeros(n, np.float32) if n and all("score" in a for a in anns) else None
    no_box: list[int] = []
    for r, a in enumerate(anns):
        crowd = a.get("iscrowd", None)
        if crowd is None:
            filled["iscrowd"] += 1
        elif crowd not in (0, 1) or isinstance(crowd, float):
            raise err(f"annotations[id={ann_ids[r]}].iscrowd", f"iscrowd must be 0 or 1, got {crowd!r}")
        iscrowd[r] = bool(crowd)
        box = a.get("bbox")
        if box is None:
            no_box.append(r)
        else:
            if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
                raise err(f"annotations[id={ann_ids[r]}].bbox", f"bbox must be [x, y, w, h] numbers, got {box!r}")
            if not all(np.isfinite(box)):
                raise err(f"annotations[id={ann_ids[r]}].bbox", "NaN or infinite bbox value")
            if box[2] <= 0 or box[3] <= 0:
                raise err(f"annotations[id={ann_ids[r]}].bbox", f"bbox has zero or negative size ({box[2]}x{box[3]})")
            bboxes[r] = box
        area = a.get("area")
        if area is None:
            areas[r] = np.nan
        elif not isinstance(area, (int, float)) or isinstance(area, bool) or not np.isfinite(area) or area < 0:
            raise err(f"annotations[id={ann_ids[r]}].area", f"area must be a non-negative number, got {area!r}")
        else:
            areas[r] = area
        if scores is not None:
            s = a["score"]
            if not isinstance(s, (int, float)) or not np.isfinite(s):
                raise err(f"annotations[id={ann_ids[r]}].score", f"score must be a number, got {s!r}")
            scores[r] = s
        if "num_keypoints" not in a:
            filled["num_keypoints"] += 1
    bboxes = xywh_to_xyxy(bboxes)
    if no_box:
        rows = np.asarray(no_box)
        img_row = {int(i): j for j, i in enumerate(image_ids)}
        irows = np.array([img_row[int(i)] for i in ann_image_ids[rows]])
        boxes, has = boxes_from_keypoints(keypoints[rows], visibility[rows], widths=widths[irows], heights=heights[irows])
        if not has.all():
            r = int(rows[np.argmin(has)])
            raise err(f"annotations[id={ann_ids[r]}]", "no bbox and no labelled keypoints to derive one from")
        bboxes[rows] = boxes
        filled["bbox (from keypoints)"] += len(rows)
    no_area = np.isnan(areas)
    if no_area.any():
        wh = bboxes[no_area, 2:] - bboxes[no_area, :2]
        areas[no_area] = wh[:, 0] * wh[:, 1]
        filled["area (bbox area)"] += int(no_area.sum())

    info = {key: d[key] for key in ("info", "licenses") if key in d}
    return CocoData(
        image_ids=image_ids,
        file_names=file_names,
        widths=widths,
        heights=heights,
        ann_ids=ann_ids,
        ann_image_ids=ann_image_ids,
        category_ids=category_ids,
        bboxes=bboxes,
        keypoints=keypoints,
        visibility=visibility,
        iscrowd=iscrowd,
        areas=areas,
        categories=list(cats),
        image_root=image_root,
        source=src,
        scores=scores,
        filled=filled,
        info=info.get("info", {}) if isinstance(info.get("info"), dict) else {},
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def save_coco(data: CocoData, path: str | Path, *, indent: int | None = None) -> None:
    """Write the COCO file atomically."""
    write_json(path, data.to_json(), indent=indent)


def build_coco(
    *,
    file_names: list[str],
    widths: np.ndarray | list[int],
    heights: np.ndarray | list[int],
    ann_image_rows: np.ndarray | list[int],
    keypoints: np.ndarray,
    visibility: np.ndarray,
    categories: list[dict[str, Any]],
    bboxes: np.ndarray | None = None,
    category_ids: np.ndarray | None = None,
    iscrowd: np.ndarray | None = None,
    image_root: Path | None = None,
    source: str = "<memory>",
) -> CocoData:
    """A ``CocoData`` from plain arrays, as converters produce it.

    Images get ids 1..M, annotations 1..N; ``ann_image_rows`` are 0-based image rows. Missing
    boxes come from the keypoints (padded, clipped); areas are box areas.
    """
    m, n = len(file_names), len(keypoints)
    widths = np.asarray(widths, np.int64).reshape(m)
    heights = np.asarray(heights, np.int64).reshape(m)
    rows = np.asarray(ann_image_rows, np.int64).reshape(n)
    keypoints = np.asarray(keypoints, np.float32).reshape(n, -1, 2).copy()
    visibility = np.asarray(visibility, np.uint8).reshape(n, -1).copy()
    keypoints[visibility == 0] = 0.0
    filled: Counter[str] = Counter()
    if bboxes is None:
        bboxes, _ = boxes_from_keypoints(keypoints, visibility, widths=widths[rows], heights=heights[rows])
        filled["bbox (from keypoints)"] = n
    bboxes = np.asarray(bboxes, np.float32).reshape(n, 4)
    wh = bboxes[:, 2:] - bboxes[:, :2]
    cat = categories[0]["id"] if categories else 1
    return CocoData(
        image_ids=np.arange(1, m + 1, dtype=np.int64),
        file_names=list(file_names),
        widths=widths,
        heights=heights,
        ann_ids=np.arange(1, n + 1, dtype=np.int64),
        ann_image_ids=rows + 1,
        category_ids=np.full(n, cat, np.int64) if category_ids is None else np.asarray(category_ids, np.int64),
        bboxes=bboxes,
        keypoints=keypoints,
        visibility=visibility,
        iscrowd=np.zeros(n, bool) if iscrowd is None else np.asarray(iscrowd, bool),
        areas=(wh[:, 0] * wh[:, 1]).astype(np.float32),
        categories=categories,
        image_root=image_root,
        source=source,
        filled=filled,
    )
