"""COCO keypoints I/O: one file <-> arrays (bbox xyxy, keypoints (N, K, 2), visibility (N, K)).

COCO's xywh boxes and flat ``[x, y, v, ...]`` keypoints exist only at the file boundary.
Loading is strict: the file is read by ``pose.data.coco_parse`` and its first structural problem
raises a ``DataError`` naming the file and the entry (``pose.data.coco_strict``; ``pose data
validate`` reads it the same way and reports all problems at once). Values COCO lets a file omit but
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

from pose.data.coco_parse import CocoTables, file_name_problem
from pose.data.coco_strict import check_coco
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


def coco_from_dict(
    d: Any,
    *,
    source: str = "<memory>",
    image_root: Path | None = None,
    num_keypoints: int | None = None,
    allow_empty: bool = False,
) -> CocoData:
    """A COCO keypoints object as arrays; its first problem raises (``pose.data.coco_strict``)."""
    c = check_coco(d, source=source, num_keypoints=num_keypoints, allow_empty=allow_empty)
    img, ann = c.tables.images, c.tables.annotations
    visibility = c.keypoints[..., 2].astype(np.uint8)
    keypoints = c.keypoints[..., :2].astype(np.float32)
    keypoints[visibility == 0] = 0.0
    filled: Counter[str] = Counter()
    for key, count in (
        ("keypoints (none)", c.missing_keypoints),
        ("iscrowd", int((~ann.iscrowd.present).sum())),
        ("num_keypoints", int((~ann.rows.has("num_keypoints")).sum())),
    ):
        if count:
            filled[key] = count
    bboxes, areas = _boxes_and_areas(c.tables, keypoints, visibility, filled)
    info = d.get("info")
    return CocoData(
        image_ids=img.id.values,
        file_names=[str(f) for f in img.file_name],
        widths=img.width.values,
        heights=img.height.values,
        ann_ids=ann.id.values,
        ann_image_ids=ann.image_id.values,
        category_ids=ann.category_id.values,
        bboxes=bboxes,
        keypoints=keypoints,
        visibility=visibility,
        iscrowd=ann.iscrowd.values.astype(bool),
        areas=areas,
        categories=list(d["categories"]),
        image_root=image_root,
        source=source,
        scores=None if c.scores is None else c.scores.values.astype(np.float32),
        filled=filled,
        info=info if isinstance(info, dict) else {},
    )


def _boxes_and_areas(t: CocoTables, keypoints: np.ndarray, visibility: np.ndarray, filled: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
    """xyxy boxes (derived from the keypoints where absent) and areas (box areas where absent)."""
    img, box, area = t.images, t.annotations.bbox, t.annotations.area
    bboxes = xywh_to_xyxy(np.where(box.present[:, None], box.values, 0.0))
    no_box = np.flatnonzero(~box.present)
    if len(no_box):
        order = np.argsort(img.id.values, kind="stable")
        rows = order[np.searchsorted(img.id.values[order], t.annotations.image_id.values[no_box])]
        bboxes[no_box], _ = boxes_from_keypoints(keypoints[no_box], visibility[no_box], widths=img.width.values[rows], heights=img.height.values[rows])
        filled["bbox (from keypoints)"] += len(no_box)
    areas = np.where(area.present, area.values, np.nan).astype(np.float32)
    no_area = np.isnan(areas)
    if no_area.any():
        wh = bboxes[no_area, 2:] - bboxes[no_area, :2]
        areas[no_area] = wh[:, 0] * wh[:, 1]
        filled["area (bbox area)"] += int(no_area.sum())
    return bboxes, areas


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
