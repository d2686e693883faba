"""SLEAP labels (``.slp``, ``.pkg.slp``) -> canonical dataset, read straight from the HDF5 file.

Only user-labelled instances are converted; predicted ones are dropped and counted. SLEAP's
point flags become COCO visibility: visible -> 2, NaN -> 0, and a hidden point (``visible``
false, coordinates kept) -> 0 by default, as SLEAP itself treats it (training, sleap-io's
``numpy()``): its coordinates are often a placeholder the GUI put there, not a label.
``hidden_as_occluded=True`` makes it v=1 instead. Frames
embedded in a ``.pkg.slp`` are written out byte-exact, frames that only exist inside a video
are decoded once and written as lossless PNG, and single-image "videos" are linked or copied.
Videos are looked up as stored, then by their trailing path beside the ``.slp`` or one folder
up (label files keep the absolute paths of the machine they were made on). Track identities
are not kept: COCO keypoints has no field for them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np

from pose.data.convert.imagefiles import find_moved_file, place_image, stored_parts
from pose.data.convert.report import ConversionReport
from pose.data.coco import build_coco, save_coco
from pose.data.image import read_image_size
from pose.data.layout import ANNOTATIONS, IMAGES, META
from pose.data.meta import DatasetMeta
from pose.errors import DataError
from pose.fileio import write_bytes

REQUIRED = ("metadata", "videos_json", "frames", "instances", "points")
USER = 0
BODY_EDGE, SYMMETRY_EDGE = 1, 2
#: format_id < 1.1 measured from the pixel corner; SLEAP >= 1.1 (and sleap-io) from its centre.
PIXEL_CENTRE_FORMAT = 1.1


@dataclass(frozen=True)
class Skeleton:
    """One SLEAP skeleton with 0-based node indices in the instance point order."""

    name: str
    node_names: list[str]
    edges: np.ndarray  # (L, 2) int64
    symmetries: np.ndarray  # (P, 2) int64


@dataclass(frozen=True)
class SlpLabels:
    """The raw tables of a .slp file (structured numpy arrays) plus its parsed JSON."""

    path: Path
    format_id: float
    skeletons: list[Skeleton]
    videos: list[dict[str, Any]]  # each video's "backend" dict
    frames: np.ndarray
    instances: np.ndarray
    points: np.ndarray


# --------------------------------------------------------------------------- reading
def read_slp(path: Path) -> SlpLabels:
    """Read the tables and metadata of a SLEAP labels file; DataError for anything else."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"not a SLEAP .slp file (cannot open as HDF5: {' '.join(str(e).split())[:100]})", file=path) from None
    with f:
        for name in REQUIRED:
            if name not in f:
                raise DataError(f"missing HDF5 entry '{name}': not a SLEAP labels file", file=path, entry=name)
        raw = f["metadata"].attrs.get("json")
        if raw is None:
            raise DataError("metadata has no 'json' attribute", file=path, entry="metadata")
        try:
            meta = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
            format_id = float(f["metadata"].attrs.get("format_id", 1.0))
            videos = [json.loads(v.decode() if isinstance(v, bytes) else v).get("backend", {}) for v in f["videos_json"][:]]
        except (ValueError, AttributeError) as e:
            raise DataError(f"invalid JSON ({e})", file=path, entry="metadata/videos_json") from None
        frames, instances, points = f["frames"][:], f["instances"][:], f["points"][:]
    for name, arr, fields in (
        ("frames", frames, ("frame_id", "video", "frame_idx")),
        ("instances", instances, ("instance_id", "instance_type", "frame_id", "skeleton", "point_id_start", "point_id_end")),
        ("points", points, ("x", "y", "visible")),
    ):
        missing = [k for k in fields if arr.dtype.names is None or k not in arr.dtype.names]
        if missing:
            raise DataError(f"table lacks field(s) {', '.join(missing)}", file=path, entry=name)
    return SlpLabels(path, format_id, read_skeletons(meta, path), videos, frames, instances, points)


def read_skeletons(meta: dict[str, Any], path: Path) -> list[Skeleton]:
    """Skeletons from the metadata JSON; node ids index the file-wide ``nodes`` list."""
    try:
        all_names = [str(n["name"]) for n in meta["nodes"]]
        out = []
        for s in meta["skeletons"]:
            ids = [int(n["id"]) for n in s["nodes"]]
            pos = {node: i for i, node in enumerate(ids)}
            links = s.get("links", [])
            pairs = np.array([[pos[l["source"]], pos[l["target"]]] for l in links], np.int64).reshape(-1, 2)
            types = np.array(_edge_types(links), np.int64)
            name = str(s.get("graph", {}).get("name") or "skeleton")
            out.append(Skeleton(name, [all_names[i] for i in ids], pairs[types == BODY_EDGE], pairs[types == SYMMETRY_EDGE]))
    except (KeyError, TypeError, IndexError, ValueError) as e:
        raise DataError(f"unreadable skeleton in the metadata JSON ({type(e).__name__}: {e})", file=path, entry="metadata.skeletons") from None
    if not out:
        raise DataError("no skeleton in the metadata", file=path, entry="metadata.skeletons")
    return out


def _edge_types(links: list[dict[str, Any]]) -> list[int]:
    """Edge type per link: jsonpickle writes each EdgeType once ('py/reduce'), then 'py/id' n = the n-th."""
    seen: list[int] = []
    types = []
    for link in links:
        t = link["type"]
        if "py/reduce" in t:
            seen.append(int(t["py/reduce"][1]["py/tuple"][0]))
            types.append(seen[-1])
        else:
            ref = int(t["py/id"])
            types.append(seen[ref - 1] if 0 < ref <= len(seen) else ref)
    return types


# --------------------------------------------------------------------------- converting
def convert(src: Path, out_dir: Path, *, split: str, report: ConversionReport, hidden_as_occluded: bool = False) -> None:
    """Write ``out_dir/annotations/<split>.json``, ``images/`` and ``meta.yaml`` from a .slp file."""
    slp = read_slp(src)
    inst = slp.instances
    user = inst["instance_type"] == USER
    for i in np.flatnonzero(~user):
        report.drop(f"instances[{inst['instance_id'][i]}]", "predicted instance (only user labels are converted)")
    inst = inst[user]
    skel = _single_skeleton(slp, inst)
    xy, vis = _instance_points(slp, inst, len(skel.node_names))
    if not hidden_as_occluded:
        for i, j in zip(*np.nonzero(vis == 1)):
            report.drop(f"instances[{inst['instance_id'][i]}].points[{skel.node_names[j]}]", "hidden point (SLEAP visible=false) kept unlabelled")
        vis[vis == 1] = 0
    empty = vis.max(axis=1, initial=0) == 0
    for i in np.flatnonzero(empty):
        report.drop(f"instances[{inst['instance_id'][i]}]", "user instance without labelled points")
    inst, xy, vis = inst[~empty], xy[~empty], vis[~empty]
    if not len(inst):
        raise DataError(
            f"no user-labelled instances to convert ({len(report.dropped)} dropped: predictions or empty)",
            file=src,
            entry="instances",
            hint="label frames in SLEAP (predictions are not labels)",
        )

    frame_rows = _frame_rows(slp, inst)
    keys = np.stack([slp.frames["video"][frame_rows].astype(np.int64), slp.frames["frame_idx"][frame_rows].astype(np.int64)], axis=1)
    images, ann_rows = np.unique(keys.reshape(-1, 2), axis=0, return_inverse=True)
    names, widths, heights = _write_frames(slp, images, out_dir / IMAGES, report)

    category = _category_name(skel)
    data = build_coco(
        file_names=names,
        widths=widths,
        heights=heights,
        ann_image_rows=ann_rows.reshape(-1),
        keypoints=xy,
        visibility=vis,
        categories=[{"id": 1, "name": category, "supercategory": category, "keypoints": skel.node_names, "skeleton": (skel.edges + 1).tolist()}],
        source=str(src),
    )
    save_coco(data, out_dir / ANNOTATIONS / f"{split}.json")
    _draft_meta(skel, src, category, report).save(out_dir / META)
    report.images += len(names)
    report.instances += len(inst)
    report.keypoints = len(skel.node_names)
    report.derived["bbox (from keypoints)"] += len(inst)


def _single_skeleton(slp: SlpLabels, inst: np.ndarray) -> Skeleton:
    used = np.unique(inst["skeleton"]) if len(inst) else np.zeros(1, np.int64)
    if len(used) > 1:
        raise DataError(
            f"user instances use {len(used)} skeletons; one dataset holds one keypoint set",
            file=slp.path,
            entry="instances.skeleton",
            hint="split the project per skeleton in SLEAP",
        )
    if int(used[0]) >= len(slp.skeletons):
        raise DataError(f"skeleton index {int(used[0])} but the metadata has {len(slp.skeletons)}", file=slp.path, entry="instances.skeleton")
    return slp.skeletons[int(used[0])]


def _instance_points(slp: SlpLabels, inst: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 2) float32 coordinates and (N, K) uint8 COCO visibility of the given user instances."""
    start = inst["point_id_start"].astype(np.int64)
    count = inst["point_id_end"].astype(np.int64) - start
    bad = (count != k) | (start + k > len(slp.points))
    if bad.any():
        i = int(np.argmax(bad))
        rows = f"rows {start[i]}..{start[i] + count[i]} of {len(slp.points)}"
        raise DataError(f"{count[i]} points ({rows}) for a {k}-node skeleton", file=slp.path, entry=f"instances[{inst['instance_id'][i]}]")
    pts = slp.points[start[:, None] + np.arange(k)]
    xy = np.stack([pts["x"], pts["y"]], axis=-1).astype(np.float64)
    if slp.format_id < PIXEL_CENTRE_FORMAT:
        xy -= 0.5
    labelled = np.isfinite(xy).all(axis=-1)
    vis = np.where(labelled, np.where(pts["visible"], 2, 1), 0).astype(np.uint8)
    xy[~labelled] = 0.0
    return xy.astype(np.float32), vis


def _frame_rows(slp: SlpLabels, inst: np.ndarray) -> np.ndarray:
    """Row in ``frames`` of each instance's frame."""
    ids = slp.frames["frame_id"].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    want = inst["frame_id"].astype(np.int64)
    pos = np.clip(np.searchsorted(ids, want, sorter=order), 0, max(len(ids) - 1, 0))
    found = (ids[order[pos]] == want) if len(ids) else np.zeros(len(want), bool)
    if not found.all():
        i = int(np.argmin(found))
        raise DataError(f"frame_id {want[i]} is not in the frames table", file=slp.path, entry=f"instances[{inst['instance_id'][i]}]")
    rows = order[pos]
    bad_video = slp.frames["video"][rows] >= len(slp.videos)
    if bad_video.any():
        r = int(rows[np.argmax(bad_video)])
        raise DataError(f"video index {slp.frames['video'][r]} but the file lists {len(slp.videos)} video(s)", file=slp.path, entry=f"frames[{r}]")
    return rows


def _category_name(skel: Skeleton) -> str:
    return "animal" if re.fullmatch(r"(?i)skeleton(-\d+)?", skel.name) else skel.name


def _draft_meta(skel: Skeleton, src: Path, category: str, report: ConversionReport) -> DatasetMeta:
    """Names and skeleton from the .slp; swap partners from SLEAP symmetries, else from left/right names."""
    names = skel.node_names
    d: dict[str, Any] = {"name": src.name.split(".")[0] or "sleap", "category": category, "skeleton": skel.edges.tolist()}
    if len(skel.symmetries):
        swap = [""] * len(names)
        for a, b in skel.symmetries.tolist():
            for x, y in ((a, b), (b, a)):
                if swap[x] not in ("", names[y]):
                    raise DataError(f"node '{names[x]}' is symmetric to both '{swap[x]}' and '{names[y]}'", file=src, entry="metadata.skeletons")
                swap[x] = names[y]
        d["keypoints"] = [{"name": n, "swap": s} for n, s in zip(names, swap)]
    else:
        d["keypoints"] = list(names)
    meta = DatasetMeta.from_dict(d, source=str(src))
    if not len(skel.symmetries) and len(meta.flip_pairs):
        report.derived["swap partners (from left/right names)"] += len(meta.flip_pairs)
    return meta


# --------------------------------------------------------------------------- frames
def _write_frames(slp: SlpLabels, images: np.ndarray, dest: Path, report: ConversionReport) -> tuple[list[str], list[int], list[int]]:
    """Put every (video, frame_idx) in ``images`` under ``dest``; file names relative to it."""
    names: list[str] = []
    widths: list[int] = []
    heights: list[int] = []
    labels: set[str] = set()
    for v in np.unique(images[:, 0]).tolist():
        idx = images[images[:, 0] == v, 1].tolist()
        backend = slp.videos[v]
        label = _video_label(slp, v, labels)
        labels.add(label)
        entry = f"videos_json[{v}]"
        if backend.get("dataset") and _is_self(backend.get("filename"), slp.path):
            got = _embedded_frames(slp.path, str(backend["dataset"]), idx, dest, label, entry)
        elif backend.get("filenames"):
            got = _image_list_frames(slp, backend["filenames"], idx, dest, label, entry, report)
        else:
            video = _find_video(slp, str(backend.get("filename") or ""), entry, report)
            if backend.get("dataset"):
                got = _embedded_frames(video, str(backend["dataset"]), idx, dest, label, entry)
            else:
                got = _decoded_frames(video, slp.path, idx, dest, label, bool(backend.get("grayscale")))
        for name, (w, h) in got:
            names.append(name)
            widths.append(w)
            heights.append(h)
    return names, widths, heights


def _video_label(slp: SlpLabels, v: int, taken: set[str]) -> str:
    """Folder for one video's frames: its file stem (or image folder), unique among videos."""
    b = slp.videos[v]
    if b.get("dataset") and _is_self(b.get("filename"), slp.path):
        base = str(b["dataset"]).split("/")[0]
    elif b.get("filenames"):
        parts = stored_parts(str(b["filenames"][0]))
        base = parts[-2] if len(parts) > 1 else f"video{v}"
    else:
        parts = stored_parts(str(b.get("filename") or ""))
        base = Path(parts[-1]).stem if parts else f"video{v}"
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or f"video{v}"
    return base if base not in taken else f"{base}_{v}"


def _is_self(filename: Any, slp_path: Path) -> bool:
    return filename in (None, "", ".") or Path(str(filename)).name == slp_path.name


def _find_video(slp: SlpLabels, stored: str, entry: str, report: ConversionReport) -> Path:
    found = find_moved_file(stored, [slp.path.parent, slp.path.parent.parent]) if stored else None
    if found is None:
        raise DataError(
            f"video '{stored}' not found (looked as stored, beside the .slp and one folder up)",
            file=slp.path,
            entry=entry,
            hint="put the video next to the .slp file (same name) and convert again",
        )
    if Path(stored) != found and not (slp.path.parent / stored).is_file():
        report.warnings.append(f"{entry}: '{stored}' not found as stored; used {found}")
        report.derived["video path (found by trailing path)"] += 1
    return found


def _embedded_frames(h5_path: Path, dataset: str, idx: list[int], dest: Path, label: str, entry: str) -> list[tuple[str, tuple[int, int]]]:
    """Frames stored in an HDF5 dataset: encoded bytes (written as is) or pixel arrays (-> PNG)."""
    out = []
    with h5py.File(h5_path, "r") as f:
        if dataset not in f:
            raise DataError(f"embedded video dataset '{dataset}' is missing", file=h5_path, entry=entry)
        ds = f[dataset]
        parent = dataset.rsplit("/", 1)[0] if "/" in dataset else ""
        numbers_key = f"{parent}/frame_numbers" if parent else "frame_numbers"
        numbers = f[numbers_key][:].astype(np.int64) if numbers_key in f else np.arange(len(ds))
        row_of = {int(n): r for r, n in enumerate(numbers)}
        encoded = ds.dtype.kind in "OS" or ds.ndim == 1
        ext = str(ds.attrs.get("format", "png")).lstrip(".").lower() if encoded else "png"
        for i in idx:
            if i not in row_of:
                raise DataError(f"labelled frame {i} is not embedded in '{dataset}'", file=h5_path, entry=entry)
            name = f"{label}/frame_{i:06d}.{ext}"
            if encoded:
                write_bytes(dest / name, bytes(np.asarray(ds[row_of[i]]).tobytes()))
            else:
                img = np.asarray(ds[row_of[i]])
                if str(ds.attrs.get("input_format", "")) == "channels_first" and img.ndim == 3:
                    img = np.transpose(img, (1, 2, 0))
                _write_png(dest / name, img[..., ::-1] if img.ndim == 3 and img.shape[-1] == 3 else img, h5_path, entry)
            out.append((name, read_image_size(dest / name, entry=entry)))
    return out


def _image_list_frames(
    slp: SlpLabels, files: list[str], idx: list[int], dest: Path, label: str, entry: str, report: ConversionReport
) -> list[tuple[str, tuple[int, int]]]:
    """Single-image "videos": frame i is the i-th file; the files are linked or copied."""
    chosen = [str(files[i]) if 0 <= i < len(files) else None for i in idx]
    bases = [Path(stored_parts(c)[-1]).name if c else "" for c in chosen]
    clash = len(set(bases)) != len(bases)
    out = []
    for i, stored, base in zip(idx, chosen, bases):
        if stored is None:
            raise DataError(f"frame {i} but the image list has {len(files)} files", file=slp.path, entry=entry)
        found = _find_video(slp, stored, f"{entry}.filenames[{i}]", report)
        name = f"{label}/{i:06d}_{base}" if clash else f"{label}/{base}"
        place_image(found, dest / name)
        out.append((name, read_image_size(dest / name, entry=entry)))
    return out


def _decoded_frames(video: Path, slp_path: Path, idx: list[int], dest: Path, label: str, grayscale: bool) -> list[tuple[str, tuple[int, int]]]:
    """Decode the labelled frames (``idx`` ascending) of a video once, seeking, into lossless PNGs."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise DataError(f"cannot open the video referenced by {slp_path}", file=video)
    out = []
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        pos = 0
        for i in idx:
            if i != pos:
                cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, frame = cap.read()
            if not ok or frame is None:
                raise DataError(f"cannot decode frame {i} (the video reports {total} frames) for {slp_path}", file=video, entry=f"frame {i}")
            pos = i + 1
            if grayscale and frame.ndim == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            name = f"{label}/frame_{i:06d}.png"
            _write_png(dest / name, frame, video, f"frame {i}")
            out.append((name, (int(frame.shape[1]), int(frame.shape[0]))))
    finally:
        cap.release()
    return out


def _write_png(path: Path, img: np.ndarray, source: Path, entry: str) -> None:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DataError(f"cannot encode a frame of shape {img.shape} as PNG", file=source, entry=entry)
    write_bytes(path, buf.tobytes())


def subset_slp(src: Path, dst: Path, step: int) -> Path:
    """A copy of the SLEAP file ``src`` at ``dst`` keeping every ``step``-th labelled frame and
    its instances (a smaller project from a densely labelled one; the videos are not copied)."""
    if step < 1:
        raise DataError(f"step must be at least 1, got {step}", file=str(src), entry="step")
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for name in ("videos_json", "tracks_json", "points", "pred_points", "suggestions_json"):
            g.create_dataset(name, data=f[name][:])
        g.create_group("metadata")
        for k, v in f["metadata"].attrs.items():
            g["metadata"].attrs[k] = v
        frames = f["frames"][:][::step]
        inst = f["instances"][:]
        g.create_dataset("frames", data=frames)
        g.create_dataset("instances", data=inst[np.isin(inst["frame_id"], frames["frame_id"])])
    return dst
