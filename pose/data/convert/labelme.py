"""labelme JSON (point shapes) -> canonical dataset folder.

``src`` is one labelme JSON file or a folder searched recursively for them. In each file,
``point`` shapes are keypoints (``label`` = keypoint name) grouped into instances by
``group_id`` (all points without one form one instance); a ``rectangle`` with the same
``group_id`` is that instance's box, otherwise the box is derived from the keypoints.
``imagePath`` is relative to the JSON file and must stay inside ``src``. Keypoint names are
the labels in first-seen order over the files (sorted by path).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pose.data.coco import read_json
from pose.data.convert.output import Collected, draft_meta, write_dataset
from pose.data.convert.report import ConversionReport
from pose.data.image import read_image_size
from pose.errors import DataError

_HINT = "a labelme file is a JSON object with 'shapes', 'imagePath', 'imageWidth' and 'imageHeight'"


@dataclass
class LabelmeFile:
    """One JSON file's image and its instances' points (flat) and rectangles."""

    source: Path
    image: Path
    file_name: str
    width: int
    height: int
    groups: list[int | None] = field(default_factory=list)  # (G,) instance keys, first-seen order
    point_group: list[int] = field(default_factory=list)  # (P,) index into groups
    point_label: list[str] = field(default_factory=list)
    point_xy: list[tuple[float, float]] = field(default_factory=list)
    rects: dict[int | None, tuple[float, float, float, float]] = field(default_factory=dict)


def convert(src: Path, out_dir: Path, *, split: str, report: ConversionReport) -> None:
    """Convert the labelme files at ``src`` into ``out_dir``."""
    src = Path(src).absolute()
    base = src.parent if src.is_file() else src
    files = [src] if src.is_file() else sorted(src.rglob("*.json"))
    if not files:
        raise DataError("no labelme .json files found", file=src, hint=_HINT)
    parsed = [read_labelme(f, base, report) for f in files]
    kept = [p for p in parsed if p.point_label]
    for p in parsed:
        if not p.point_label:
            report.drop(str(p.source), "no point shapes")
    if not kept:
        raise DataError("no point shapes in any labelme file: nothing to convert", file=src, hint=_HINT)
    names = list(dict.fromkeys(label for p in kept for label in p.point_label))
    meta = draft_meta(src.stem if src.is_file() else src.name, names, source=files[0])
    write_dataset(out_dir, _collect(kept, names, report), meta, split=split, report=report)


def _collect(files: list[LabelmeFile], names: list[str], report: ConversionReport) -> Collected:
    """Arrays over all files: instance ``g`` of a file gets row ``offset + g``."""
    index = {n: k for k, n in enumerate(names)}
    offsets = np.cumsum([0] + [len(p.groups) for p in files])
    inst = np.concatenate([np.asarray(p.point_group, np.int64) + off for p, off in zip(files, offsets)])
    kp_idx = np.array([index[label] for p in files for label in p.point_label], np.int64)
    xy = np.array([v for p in files for v in p.point_xy], np.float64).reshape(-1, 2)
    n = int(offsets[-1])
    keypoints = np.zeros((n, len(names), 2), np.float32)
    visibility = np.zeros((n, len(names)), np.uint8)
    keypoints[inst, kp_idx] = xy
    visibility[inst, kp_idx] = 2
    bboxes = np.full((n, 4), np.nan, np.float32)
    for p, off in zip(files, offsets):
        for g, key in enumerate(p.groups):
            if key in p.rects:
                bboxes[off + g] = p.rects[key]
    report.derived["visibility (labelled -> 2)"] += len(kp_idx)
    if (visibility == 0).any():
        report.defaulted["unlabelled keypoint -> 0,0,0"] += int((visibility == 0).sum())
    return Collected(
        image_files=[p.image for p in files],
        file_names=[p.file_name for p in files],
        widths=np.array([p.width for p in files], np.int64),
        heights=np.array([p.height for p in files], np.int64),
        ann_image_rows=np.repeat(np.arange(len(files)), [len(p.groups) for p in files]),
        keypoints=keypoints,
        visibility=visibility,
        bboxes=bboxes,
    )


def read_labelme(path: Path, base: Path, report: ConversionReport) -> LabelmeFile:
    """Parse one file; structural problems raise naming the file and the shape."""
    d = read_json(path)
    if not isinstance(d, dict) or not isinstance(d.get("shapes"), list):
        raise DataError("not a labelme file (no 'shapes' list)", file=path, entry="shapes", hint=_HINT)
    image, file_name = _image(path, base, d.get("imagePath"))
    width, height = read_image_size(image, entry=f"{path}: imagePath")
    jw, jh = d.get("imageWidth"), d.get("imageHeight")
    if jw is None and jh is None:
        report.defaulted["image size (from the image header)"] += 1
    elif (jw, jh) != (width, height):
        raise DataError(f"imageWidth x imageHeight {jw}x{jh} differs from the image's {width}x{height} ({image})", file=path, entry="imageWidth/imageHeight")
    out = LabelmeFile(path, image, file_name, width, height)
    pending_rects: dict[int | None, tuple[float, float, float, float]] = {}
    seen: set[tuple[int | None, str]] = set()
    for i, s in enumerate(d["shapes"]):
        entry = f"shapes[{i}]"
        if not isinstance(s, dict):
            raise DataError("a shape must be an object", file=path, entry=entry)
        label, kind, group = s.get("label"), s.get("shape_type") or "polygon", s.get("group_id")
        if not isinstance(label, str) or not label:
            raise DataError("shape needs a non-empty 'label'", file=path, entry=entry)
        entry = f"shapes[{i}] ({label})"
        if group is not None and (not isinstance(group, int) or isinstance(group, bool)):
            raise DataError(f"group_id must be an integer or null, got {group!r}", file=path, entry=entry)
        if kind == "point":
            (x, y), = _points(s, 1, path, entry)
            if (group, label) in seen:
                group_text = "the ungrouped points" if group is None else f"group {group}"
                raise DataError(f"second '{label}' point in {group_text}", file=path, entry=entry, hint="give each instance its own group_id")
            seen.add((group, label))
            if group not in out.groups:
                out.groups.append(group)
            out.point_group.append(out.groups.index(group))
            out.point_label.append(label)
            out.point_xy.append((x, y))
        elif kind == "rectangle":
            (x0, y0), (x1, y1) = _points(s, 2, path, entry)
            if group in pending_rects:
                raise DataError("second rectangle for the same group_id", file=path, entry=entry)
            pending_rects[group] = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        else:
            report.drop(f"{path}: {entry}", f"shape_type '{kind}' is not converted")
    for group, box in pending_rects.items():
        if group in out.groups:
            out.rects[group] = box
        else:
            report.drop(f"{path}: rectangle group_id={group}", "rectangle without point shapes")
    return out


def _image(path: Path, base: Path, image_path: Any) -> tuple[Path, str]:
    """The image file named by ``imagePath`` (relative to the JSON) and its name under ``base``."""
    if not isinstance(image_path, str) or not image_path:
        raise DataError("missing 'imagePath'", file=path, entry="imagePath", hint=_HINT)
    rel = PurePosixPath(image_path.replace("\\", "/"))
    if rel.is_absolute():
        raise DataError(f"absolute imagePath '{image_path}' is not supported", file=path, entry="imagePath", hint="labelme stores it relative to the JSON")
    image = Path(os.path.normpath(path.parent / rel))
    name = Path(os.path.relpath(image, base)).as_posix()
    if name.startswith("../") or name == "..":
        raise DataError(f"image '{image_path}' lies outside {base}", file=path, entry="imagePath", hint="convert the folder that holds both the JSON files and the images")
    if not image.is_file():
        raise DataError(f"image '{image_path}' not found (looked at {image})", file=path, entry="imagePath")
    return image, name


def _points(shape: dict[str, Any], count: int, path: Path, entry: str) -> list[tuple[float, float]]:
    pts = shape.get("points")
    if not isinstance(pts, list) or len(pts) != count:
        raise DataError(f"expected {count} point(s) [x, y], got {pts!r}"[:160], file=path, entry=f"{entry}.points")
    out = []
    for p in pts:
        ok = isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        if not ok:
            raise DataError(f"point {p!r} is not a pair of finite numbers", file=path, entry=f"{entry}.points")
        out.append((float(p[0]), float(p[1])))
    return out
