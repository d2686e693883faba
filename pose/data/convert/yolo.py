"""YOLO-pose (Ultralytics layout) <-> canonical dataset.

A YOLO-pose dataset is a ``data.yaml`` (``path``, ``train``/``val``/``test`` as image folders
or list files, ``kpt_shape: [K, 2|3]``, ``flip_idx``, ``names``, optionally ``kpt_names``) plus
one ``labels/.../<stem>.txt`` per image (``images`` -> ``labels`` in its path), each line
``cls cx cy w h x1 y1 [v1] ...`` normalised to [0, 1]. Import converts every split the yaml
names (under that name) and keeps YOLO's boxes; export writes all splits of a dataset folder.
YOLO has no crowd regions and no skeleton: export drops crowd annotations and instances
without labelled keypoints (counted), import leaves the skeleton empty.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pose.data.coco import CocoData, build_coco, save_coco
from pose.data.convert.imagefiles import place_image
from pose.data.convert.report import ConversionReport
from pose.data.image import read_image_size
from pose.data.layout import ANNOTATIONS, IMAGES, META, load_dataset, splits
from pose.data.meta import DatasetMeta
from pose.errors import DataError
from pose.fileio import write_text

DATA_YAML = "data.yaml"
LABELS = "labels"
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"})
SPLIT_KEYS = ("train", "val", "test")
#: normalised coordinates may exceed [0, 1] by this much (rounding in other tools) before refusal
TOLERANCE = 1e-3
#: significant digits in exported labels: 1e-8 of the image size, far below 1e-3 px
DIGITS = 8


@dataclass(frozen=True)
class YoloConfig:
    """A parsed data.yaml."""

    yaml_path: Path
    root: Path
    splits: dict[str, list[str]]  # split -> image folders / list files, as written
    num_keypoints: int
    ndim: int
    flip_idx: np.ndarray | None
    class_names: list[str]
    kpt_names: list[str] | None


# --------------------------------------------------------------------------- data.yaml
def find_data_yaml(src: Path) -> Path:
    """``src`` itself, or the data.yaml (or only .yaml) in the folder ``src``."""
    if src.is_file():
        return src
    if (src / DATA_YAML).is_file():
        return src / DATA_YAML
    found = sorted(src.glob("*.yaml")) + sorted(src.glob("*.yml"))
    if len(found) != 1:
        raise DataError(f"expected one data.yaml in the folder, found {len(found)}", file=src, hint="pass the dataset yaml file itself")
    return found[0]


def read_data_yaml(src: Path, report: ConversionReport | None = None) -> YoloConfig:
    """Parse and check a YOLO-pose data.yaml; every problem is a DataError naming the key."""
    path = find_data_yaml(src)
    try:
        d = yaml.safe_load(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError(f"not valid YAML ({' '.join(str(e).split())[:120]})", file=path) from None
    if not isinstance(d, dict):
        raise DataError("a YOLO data.yaml is a mapping", file=path, entry="<top>")

    def err(entry: str, msg: str) -> DataError:
        return DataError(msg, file=path, entry=entry)

    shape = d.get("kpt_shape")
    if shape is None:
        raise err("kpt_shape", "missing: not a YOLO-pose dataset (detection yaml?)")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) for v in shape) and shape[0] > 0 and shape[1] in (2, 3)):
        raise err("kpt_shape", f"must be [K, 2] or [K, 3] with K > 0, got {shape!r}")
    k, ndim = shape
    flip = _flip_idx(d.get("flip_idx"), k, err)
    names = _class_names(d, err)
    kpt_names = _kpt_names(d.get("kpt_names"), k, err)
    split_entries = {}
    for key in [s for s in SPLIT_KEYS if d.get(s)]:
        v = d[key]
        entries = [v] if isinstance(v, str) else v
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise err(key, "must be a path or a list of paths")
        split_entries[key] = entries
    if not split_entries:
        raise err("train", "no train/val/test entry")
    return YoloConfig(path, _root(path, d.get("path"), report), split_entries, k, ndim, flip, names, kpt_names)


def _root(path: Path, declared: Any, report: ConversionReport | None) -> Path:
    if not declared:
        return path.parent
    root = Path(str(declared))
    root = root if root.is_absolute() else path.parent / root
    if not root.is_dir():
        if report is not None:
            report.warnings.append(f"{path}: path '{declared}' not found; using the yaml's folder {path.parent}")
        return path.parent
    return root


def _flip_idx(v: Any, k: int, err: Any) -> np.ndarray | None:
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != k or not all(isinstance(i, int) and 0 <= i < k for i in v):
        raise err("flip_idx", f"must list {k} keypoint indices in 0..{k - 1}, got {v!r}")
    flip = np.asarray(v, np.int64)
    bad = flip[flip] != np.arange(k)
    if bad.any():
        i = int(np.argmax(bad))
        raise err("flip_idx", f"not a pairing: {i} -> {flip[i]} but {flip[i]} -> {flip[flip[i]]} (flipping twice must give back the keypoint)")
    return flip


def _class_names(d: dict[str, Any], err: Any) -> list[str]:
    names = d.get("names")
    if names is None:
        nc = d.get("nc", 1)
        return [f"class{i}" for i in range(nc)] if isinstance(nc, int) and nc > 0 else ["object"]
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise err("names", f"class ids must be 0..{len(names) - 1}, got {sorted(names)!r}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise err("names", "must be a non-empty list or a {id: name} mapping")
    return [str(n) for n in names]


def _kpt_names(v: Any, k: int, err: Any) -> list[str] | None:
    """``kpt_names`` as newer Ultralytics writes it ({class: [names]}), a list of lists, or a flat list."""
    if v is None:
        return None
    if isinstance(v, dict):
        v = [v[c] for c in sorted(v)]
    if isinstance(v, list) and v and all(isinstance(n, str) for n in v):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(x, list) and len(x) == k for x in v):
        raise err("kpt_names", f"must give {k} names (per class)")
    if any(x != v[0] for x in v[1:]):
        raise err("kpt_names", "classes with different keypoint names cannot share one dataset meta")
    return [str(n) for n in v[0]]


def yolo_meta(cfg: YoloConfig, report: ConversionReport) -> DatasetMeta:
    """Draft meta: names from kpt_names (else kp0..), swap partners from flip_idx, no skeleton."""
    names = cfg.kpt_names or [f"kp{i}" for i in range(cfg.num_keypoints)]
    if cfg.kpt_names is None:
        report.defaulted["keypoint names (kp0..)"] += cfg.num_keypoints
    report.defaulted["skeleton (YOLO has none)"] += 1
    flip = cfg.flip_idx if cfg.flip_idx is not None else np.arange(cfg.num_keypoints)
    if cfg.flip_idx is None:
        report.defaulted["flip_idx (no swap partners)"] += 1
    kps = [{"name": n, "swap": names[f] if f != i else ""} for i, (n, f) in enumerate(zip(names, flip.tolist()))]
    name = cfg.yaml_path.stem if cfg.yaml_path.name != DATA_YAML else cfg.yaml_path.parent.name
    return DatasetMeta.from_dict({"name": name or "yolo", "category": cfg.class_names[0], "keypoints": kps}, source=str(cfg.yaml_path))


# --------------------------------------------------------------------------- images and labels
def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder in the path becomes ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    hits = [i for i, p in enumerate(parts[:-1]) if p == IMAGES]
    if hits:
        parts[hits[-1]] = LABELS
    return Path(*parts).with_suffix(".txt")


def split_images(cfg: YoloConfig, split: str) -> list[Path]:
    """Image files of one split: folders searched recursively, list files read line by line."""
    out: list[Path] = []
    for entry in cfg.splits[split]:
        p = Path(entry) if Path(entry).is_absolute() else cfg.root / entry
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        elif p.is_file() and p.suffix.lower() == ".txt":
            lines = [ln.strip() for ln in p.read_text("utf-8").splitlines() if ln.strip()]
            out += [Path(ln) if Path(ln).is_absolute() else p.parent / ln for ln in lines]
        else:
            raise DataError(f"'{entry}' is neither an image folder nor a .txt list of images", file=cfg.yaml_path, entry=split)
    missing = [f for f in out if not f.is_file()]
    if missing:
        raise DataError("listed image not found", file=missing[0], entry=split)
    return list(dict.fromkeys(out))


def check_orphan_labels(images: list[Path]) -> None:
    """A label file whose image is missing is an error (the labels would be silently ignored)."""
    folders = {label_path(img).parent: img.parent for img in images}
    for labels, image_dir in folders.items():
        have = {f.stem for f in image_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES}
        for lab in sorted(labels.glob("*.txt")):
            if lab.stem not in have:
                hint = f"no image named '{lab.stem}.*' in {image_dir}"
                raise DataError("label file without its image", file=lab, entry="image", hint=hint)


def read_label_file(path: Path, k: int, ndim: int, num_classes: int) -> np.ndarray:
    """(n, 5 + K * ndim) float64 rows of a label file, checked; DataError names the line."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", file=path) from None
    want = 5 + k * ndim
    rows: list[list[float]] = []
    line_nos: list[int] = []
    for no, line in enumerate(text.splitlines(), 1):
        vals = line.split()
        if not vals:
            continue
        if len(vals) != want:
            raise DataError(f"{len(vals)} values, expected {want} (class cx cy w h + {k} keypoints x {ndim})", file=path, entry=f"line {no}")
        try:
            rows.append([float(v) for v in vals])
        except ValueError:
            raise DataError("values must be numbers", file=path, entry=f"line {no}") from None
        line_nos.append(no)
    arr = np.asarray(rows, np.float64).reshape(-1, want)
    kp = arr[:, 5:].reshape(len(arr), k, ndim)
    coords = np.concatenate([arr[:, 1:5], kp[..., :2].reshape(len(arr), 2 * k)], axis=1)
    problems = [
        (~np.isfinite(arr).all(axis=1), "NaN or infinite value"),
        ((arr[:, 0] != np.round(arr[:, 0])) | (arr[:, 0] < 0) | (arr[:, 0] >= num_classes), f"class must be an integer in 0..{num_classes - 1}"),
        (((coords < -TOLERANCE) | (coords > 1 + TOLERANCE)).any(axis=1), "coordinates must be normalised to [0, 1]"),
        ((arr[:, 3:5] <= 0).any(axis=1), "box width and height must be positive"),
    ]
    if ndim == 3:
        problems.append((~np.isin(kp[..., 2], (0, 1, 2)).all(axis=1), "keypoint visibility must be 0, 1 or 2"))
    for bad, msg in problems:
        if bad.any():
            raise DataError(msg, file=path, entry=f"line {line_nos[int(np.argmax(bad))]}")
    return arr


def _dataset_name(root: Path, image: Path, split: str) -> str:
    """Image path inside the converted ``images/``: relative to the YOLO root, minus a leading ``images/``."""
    try:
        rel = image.resolve().relative_to(root.resolve()).parts
    except ValueError:
        rel = ("external", split, image.name)
    return "/".join(rel[1:] if rel[0] == IMAGES and len(rel) > 1 else rel)


# --------------------------------------------------------------------------- YOLO -> COCO
def convert(src: Path, out_dir: Path, *, split: str, report: ConversionReport) -> None:
    """Every split of a YOLO-pose dataset to ``annotations/<its name>.json`` (``split`` is not used)."""
    cfg = read_data_yaml(src, report)
    meta = yolo_meta(cfg, report)
    categories = [
        {"id": i + 1, "name": n, "supercategory": n, "keypoints": meta.keypoint_names, "skeleton": []} for i, n in enumerate(cfg.class_names)
    ]
    placed: dict[str, Path] = {}
    for name in cfg.splits:
        images = split_images(cfg, name)
        if not images:
            report.warnings.append(f"{cfg.yaml_path}: split '{name}' has no images; skipped")
            continue
        check_orphan_labels(images)
        data = _convert_split(cfg, name, images, categories, out_dir, placed, report)
        save_coco(data, out_dir / ANNOTATIONS / f"{name}.json")
        report.images += len(data.image_ids)
        report.instances += len(data)
    meta.save(out_dir / META)
    report.keypoints = cfg.num_keypoints


def _convert_split(
    cfg: YoloConfig,
    split: str,
    images: list[Path],
    categories: list[dict[str, Any]],
    out_dir: Path,
    placed: dict[str, Path],
    report: ConversionReport,
) -> CocoData:
    """Place the split's images and read their label files into one CocoData."""
    names, sizes, rows, labels = [], [], [], []
    for r, img in enumerate(images):
        rel = _dataset_name(cfg.root, img, split)
        if placed.setdefault(rel, img) != img:
            raise DataError(f"two images map to '{rel}' ({placed[rel]} and this one)", file=img, entry=split)
        place_image(img, out_dir / IMAGES / rel)
        names.append(rel)
        sizes.append(read_image_size(img))
        lab = label_path(img)
        if not lab.is_file():
            report.derived["images without a label file (background)"] += 1
            continue
        arr = read_label_file(lab, cfg.num_keypoints, cfg.ndim, len(cfg.class_names))
        labels.append(arr)
        rows += [r] * len(arr)
    k, ndim = cfg.num_keypoints, cfg.ndim
    arr = np.concatenate(labels) if labels else np.zeros((0, 5 + k * ndim))
    rows_a = np.asarray(rows, np.int64)
    wh = np.asarray(sizes, np.float64).reshape(-1, 2)[rows_a]
    kp = arr[:, 5:].reshape(-1, k, ndim)
    xy = kp[..., :2] * wh[:, None, :]
    vis = kp[..., 2].astype(np.uint8) if ndim == 3 else np.where((kp[..., :2] != 0).any(axis=-1), 2, 0).astype(np.uint8)
    centre, size = arr[:, 1:3] * wh, arr[:, 3:5] * wh
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    boxes = np.clip(boxes, 0, np.concatenate([wh, wh], axis=1))
    if ndim == 2:
        report.derived["visibility (labelled -> 2, kpt_shape [K, 2])"] += int((vis > 0).sum())
    return build_coco(
        file_names=names,
        widths=[w for w, _ in sizes],
        heights=[h for _, h in sizes],
        ann_image_rows=rows_a,
        keypoints=xy,
        visibility=vis,
        categories=categories,
        bboxes=boxes,
        category_ids=arr[:, 0].astype(np.int64) + 1,
        source=str(cfg.yaml_path),
    )


# --------------------------------------------------------------------------- COCO -> YOLO
def export(src: Path, out_dir: Path, *, split: str, report: ConversionReport) -> None:
    """Every split of a canonical dataset folder to YOLO-pose (``split`` is not used)."""
    names = splits(src)
    if not names:
        raise DataError("no annotations/<split>.json in the dataset folder", file=src / ANNOTATIONS)
    meta: DatasetMeta | None = None
    categories: list[dict[str, Any]] = []
    for name in names:
        data, meta = load_dataset(src, split=name)
        categories = categories or data.categories
        _export_split(data, name, categories, out_dir, report)
    assert meta is not None
    classes = {i: str(c.get("name") or f"class{i}") for i, c in enumerate(categories)}
    doc: dict[str, Any] = {s: f"{IMAGES}/{s}" for s in names}
    if "val" not in doc:
        doc["val"] = doc[names[0]]
        report.warnings.append(f"no val split: data.yaml's val points at {names[0]} (Ultralytics requires one)")
    doc.update(
        {
            "kpt_shape": [meta.num_keypoints, 3],
            "flip_idx": meta.flip_indices.tolist(),
            "names": classes,
            "kpt_names": {i: list(meta.keypoint_names) for i in classes},
        }
    )
    header = "# YOLO-pose dataset written by posepipe. No 'path': Ultralytics uses this file's folder.\n"
    write_text(out_dir / DATA_YAML, header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120))
    report.keypoints = meta.num_keypoints


def _export_split(data: CocoData, split: str, categories: list[dict[str, Any]], out_dir: Path, report: ConversionReport) -> None:
    for reason, bad in (("crowd region (YOLO has no crowd)", data.iscrowd), ("no labelled keypoints", ~data.iscrowd & (data.num_labelled == 0))):
        for aid in data.ann_ids[bad]:
            report.drop(f"{split}: annotations[id={aid}]", reason)
    keep = ~data.iscrowd & (data.num_labelled > 0)
    cls_of = {int(c["id"]): i for i, c in enumerate(categories)}
    unknown = ~np.isin(data.category_ids, list(cls_of))
    if (keep & unknown).any():
        aid = data.ann_ids[np.argmax(keep & unknown)]
        raise DataError("category is not among the first split's categories", file=data.source, entry=f"annotations[id={aid}]")
    lines = _label_lines(data, keep, cls_of, report)
    by_image = data.subset(np.flatnonzero(keep)).ann_rows_by_image()
    labels_seen: dict[str, str] = {}
    for r, (iid, fn) in enumerate(zip(data.image_ids.tolist(), data.file_names)):
        rel = "/".join(p if p != IMAGES else "images_" for p in Path(fn.replace("\\", "/")).parts)
        lab = str(Path(rel).with_suffix(".txt"))
        if labels_seen.setdefault(lab, fn) != fn:
            raise DataError(f"'{fn}' and '{labels_seen[lab]}' would share the label file {lab}", file=data.source, entry=f"images[id={iid}]")
        path = data.image_path(r)
        if not path.is_file():
            raise DataError(f"image file not found: {path}", file=data.source, entry=f"images[id={iid}]")
        place_image(path, out_dir / IMAGES / split / rel)
        write_text(out_dir / LABELS / split / lab, "".join(lines[i] for i in by_image[iid]))
        report.images += 1
    report.instances += int(keep.sum())


def _label_lines(data: CocoData, keep: np.ndarray, cls_of: dict[int, int], report: ConversionReport) -> list[str]:
    """One label line per kept annotation: normalised, clipped to the image, DIGITS significant digits."""
    img_row = data.image_index()
    rows = np.array([img_row[int(i)] for i in data.ann_image_ids[keep]], np.int64)
    wh = np.stack([data.widths[rows], data.heights[rows]], axis=1).astype(np.float64)
    box = data.bboxes[keep].astype(np.float64) / np.concatenate([wh, wh], axis=1)
    kp = data.keypoints[keep].astype(np.float64) / wh[:, None, :]
    vis = data.visibility[keep]
    out_box = (box < 0) | (box > 1)
    out_kp = ((kp < 0) | (kp > 1)).any(axis=-1) & (vis > 0)
    report.derived["boxes clipped to the image"] += int(out_box.any(axis=1).sum())
    report.derived["keypoints clipped to the image"] += int(out_kp.sum())
    box = np.clip(box, 0, 1)
    kp = np.where(vis[..., None] > 0, np.clip(kp, 0, 1), 0.0)
    cxcywh = np.concatenate([(box[:, :2] + box[:, 2:]) / 2, box[:, 2:] - box[:, :2]], axis=1)
    cls = np.array([cls_of[int(c)] for c in data.category_ids[keep]], np.float64)
    table = np.concatenate([cls[:, None], cxcywh, np.concatenate([kp, vis[..., None]], axis=-1).reshape(len(cls), -1)], axis=1)
    k = data.num_keypoints
    fmt = ["%d"] + [f"%.{DIGITS}g"] * 4 + [f"%.{DIGITS}g", f"%.{DIGITS}g", "%d"] * k
    buf = io.StringIO()
    np.savetxt(buf, table, fmt=fmt)
    return buf.getvalue().splitlines(keepends=True)
