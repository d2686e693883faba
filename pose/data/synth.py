"""Embedded default dataset: procedurally rendered people or quadrupeds with COCO keypoints.

``pose data synth OUT`` writes the canonical dataset folder (``annotations/train.json``,
``annotations/val.json``, ``images/``, ``meta.yaml``) from a seed alone, so the pipeline, the
tests and the benchmarks run without a download. The figures themselves (posed bodies drawn as
convex parts) live in ``pose.data.synth_figures``; this module composes scenes and writes files.

Labels follow COCO: a keypoint outside the image is unlabelled (v=0, stored as 0,0); one covered
by a nearer figure or by its own body (the far ear in profile, the face seen from behind, a hip
behind a raised arm) is occluded (v=1) at its true position; bbox and area are those of the
figure's visible mask. A figure with fewer than ``MIN_AREA`` visible pixels is not annotated at
all; one with fewer than ``MIN_LABELLED`` labelled keypoints keeps its box and area with its
keypoints cleared (num_keypoints 0): COCO keypoint evaluation ignores it, detector training uses it.

Every image has its own RNG seeded by (seed, image index), so the same seed and
``SYNTH_VERSION`` give byte-identical files (with the same numpy and OpenCV builds), and the
first N images of a larger run equal those of a smaller one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pose.data.coco import CocoData, save_coco
from pose.data.layout import ANNOTATIONS, IMAGES, META
from pose.data.meta import DatasetMeta, load_meta
from pose.data.synth_figures import BUILDERS, Camera, render_figure
from pose.errors import ConfigError
from pose.fileio import atomic_dir

#: Bump when the output for a given seed changes.
SYNTH_VERSION = 1
#: kind -> dataset meta preset.
PRESETS = {"human": "coco", "quadruped": "ap10k"}
CATEGORY_NAMES = {"human": "person", "quadruped": "animal"}
DEFAULT_IMAGES = 400
DEFAULT_SIZE = 320
MIN_LABELLED = 3
MIN_AREA = 50
JPEG_QUALITY = 90
#: Figure extent (longest side, px) at a 320 px image; scaled with ``size``.
FIGURE_PX = (40.0, 250.0)
MAX_INSTANCES = 4
_IMAGE_STREAM, _SPLIT_STREAM = 0, 1


@dataclass(eq=False)
class Scene:
    """One rendered image and its annotations (rows are annotated figures)."""

    image: np.ndarray | None  # (H, W, 3) uint8 BGR; dropped once written
    width: int
    height: int
    keypoints: np.ndarray  # (N, K, 2) float32
    visibility: np.ndarray  # (N, K) uint8
    bboxes: np.ndarray  # (N, 4) float32 xyxy of the visible mask
    areas: np.ndarray  # (N,) float32 visible mask pixels


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The RNG of image ``index``: independent of every other image and of the image count."""
    return np.random.default_rng(np.random.SeedSequence([seed, _IMAGE_STREAM], spawn_key=(index,)))


# ------------------------------------------------------------------------ background
def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured BGR background: a gradient, smooth noise, optional stripes, random shapes."""
    xs = np.arange(width, dtype=np.float32)[None, :]
    ys = np.arange(height, dtype=np.float32)[:, None]
    c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = xs * np.float32(np.cos(a)) + ys * np.float32(np.sin(a))
    t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
    img = c0 + (c1 - c0) * t[..., None]
    cell = int(rng.integers(8, 64))
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
    img += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * np.float32(rng.uniform(5, 35))
    if rng.random() < 0.35:
        b, period = rng.uniform(0, np.pi), rng.uniform(6, 40)
        wave = np.sin((xs * np.float32(np.cos(b)) + ys * np.float32(np.sin(b))) * np.float32(2 * np.pi / period))
        img += wave[..., None] * rng.uniform(-30, 30, 3).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 12))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 4))
        p = rng.uniform(-0.1, 1.1, (4, 2)) * (width, height)
        q = np.round(p).astype(np.int32)
        if shape == 0:
            cv2.rectangle(img, tuple(q[0].tolist()), tuple(q[1].tolist()), colour, -1 if rng.random() < 0.6 else 3)
        elif shape == 1:
            radius = int(rng.uniform(4, 0.25 * width))
            cv2.circle(img, tuple(q[0].tolist()), radius, colour, -1, cv2.LINE_AA)
        elif shape == 2:
            cv2.line(img, tuple(q[0].tolist()), tuple(q[1].tolist()), colour, int(rng.integers(2, 18)), cv2.LINE_AA)
        else:
            cv2.fillConvexPoly(img, cv2.convexHull(q[:3]), colour, cv2.LINE_AA)
    return img


# ------------------------------------------------------------------------ scenes
def _canvas(rng: np.random.Generator, size: int) -> tuple[int, int]:
    """(height, width): long side ``size``, short side 75-100 % of it, landscape mostly."""
    short = int(round(size * rng.uniform(0.75, 1.0) / 8) * 8)
    return (short, size) if rng.random() < 0.7 else (size, short)


def _camera(rng: np.random.Generator, kind: str, height: int, width: int, anchor: np.ndarray | None) -> Camera:
    """A random view: facing, elevation, in-plane roll, figure size and position."""
    lo, hi = (v * max(height, width) / DEFAULT_SIZE for v in FIGURE_PX)
    if kind == "quadruped" and rng.random() < 0.6:
        yaw = rng.choice([-1.0, 1.0]) * np.pi / 2 + np.deg2rad(rng.uniform(-35, 35))
    elif kind == "human" and rng.random() < 0.85:
        yaw = np.deg2rad(rng.uniform(-105, 105))
    else:
        yaw = rng.uniform(-np.pi, np.pi)
    roll = np.deg2rad(rng.normal(0, 10) if rng.random() < 0.9 else rng.uniform(-75, 75))
    px = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if anchor is not None and rng.random() < 0.5:
        centre = anchor + rng.uniform(-0.5, 0.5, 2) * px
    else:
        inner = rng.random() < 0.75
        span = (0.15, 0.85) if inner else (-0.1, 1.1)
        centre = rng.uniform(*span, 2) * (width, height)
    return Camera(
        yaw=float(yaw),
        elevation=float(np.deg2rad(rng.uniform(-10, 25))),
        roll=float(roll),
        size=px,
        centre=np.asarray(centre, np.float64),
    )


def render_scene(rng: np.random.Generator, kind: str, size: int = DEFAULT_SIZE) -> Scene:
    """1-4 figures over a textured background, drawn back to front, with COCO labels."""
    if kind not in BUILDERS:
        raise ConfigError(f"unknown kind '{kind}'", entry="kind", hint=f"use one of {', '.join(PRESETS)}")
    height, width = _canvas(rng, size)
    image = background(rng, height, width)
    owner = np.zeros((height, width), np.int16)
    n = int(rng.integers(1, MAX_INSTANCES + 1))
    kps, hidden = [], []
    anchor: np.ndarray | None = None
    bodies = [BUILDERS[kind](rng) for _ in range(n)]
    cams = []
    for _ in bodies:
        cams.append(_camera(rng, kind, height, width, anchor))
        anchor = cams[-1].centre
    for i in np.argsort([c.size for c in cams], kind="stable"):
        drawn = render_figure(image, bodies[i], cams[i])
        owner[drawn.mask] = len(kps) + 1
        kps.append(drawn.keypoints)
        hidden.append(drawn.self_occluded)
    _degrade(rng, image)
    return label_figures(image, owner, np.asarray(kps, np.float32), np.asarray(hidden, bool))


def _degrade(rng: np.random.Generator, image: np.ndarray) -> None:
    """Mild blur and sensor noise, in place."""
    if rng.random() < 0.5:
        image[:] = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0, 5))
    image[:] = np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


def label_figures(image: np.ndarray, owner: np.ndarray, kps: np.ndarray, self_occluded: np.ndarray) -> Scene:
    """COCO labels of figures 1..N from the owner map (the frontmost figure per pixel, 0 = none).

    Keypoints outside the image get v=0 (at 0,0), those under a nearer figure or self-occluded
    v=1, the rest v=2; boxes and areas are those of each figure's visible pixels.
    """
    height, width = owner.shape
    n, k = kps.shape[:2]
    inside = (kps[..., 0] >= 0) & (kps[..., 0] < width) & (kps[..., 1] >= 0) & (kps[..., 1] < height)
    xi = np.clip(kps[..., 0], 0, width - 1).astype(np.int64)
    yi = np.clip(kps[..., 1], 0, height - 1).astype(np.int64)
    front = owner[yi, xi]
    covered = front > np.arange(1, n + 1)[:, None]
    vis = np.where(inside, np.where(covered | self_occluded, 1, 2), 0).astype(np.uint8)
    ids = np.arange(1, n + 1)
    areas = np.bincount(owner.ravel(), minlength=n + 1)[1:].astype(np.float32)
    ys, xs = np.nonzero(owner)
    who = owner[ys, xs]
    boxes = np.zeros((n, 4), np.float32)
    for i in ids[areas > 0]:
        sel = who == i
        boxes[i - 1] = (xs[sel].min(), ys[sel].min(), xs[sel].max() + 1, ys[sel].max() + 1)
    keep = areas >= MIN_AREA
    vis[(vis > 0).sum(axis=1) < MIN_LABELLED] = 0
    kps = np.where(vis[..., None] > 0, kps, 0).astype(np.float32)
    return Scene(image, width, height, kps[keep].reshape(-1, k, 2), vis[keep].reshape(-1, k), boxes[keep], areas[keep])


# ------------------------------------------------------------------------ dataset
def _check(kind: str, images: int, seed: int, size: int, val_fraction: float) -> None:
    if kind not in PRESETS:
        raise ConfigError(f"unknown kind '{kind}'", entry="kind", hint=f"use one of {', '.join(PRESETS)}")
    if images < 2:
        raise ConfigError(f"need at least 2 images (one per split), got {images}", entry="images")
    if seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed}", entry="seed")
    if not 64 <= size <= 4096:
        raise ConfigError(f"size must be in 64..4096 px, got {size}", entry="size")
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}", entry="val_fraction")


def _check_out(out: Path) -> None:
    """Refuse to replace anything but an earlier dataset folder (``atomic_dir`` deletes the old one)."""
    if out.is_file():
        raise ConfigError("exists and is a file, expected a dataset folder", file=out)
    if out.is_dir() and any(out.iterdir()) and not ((out / META).is_file() or (out / ANNOTATIONS).is_dir()):
        raise ConfigError("exists and is not a dataset folder; refusing to replace it", file=out, hint="choose an empty or new folder")


def val_rows(images: int, val_fraction: float, seed: int) -> np.ndarray:
    """Sorted image indices of the val split (at least one image in each split)."""
    n_val = min(max(int(round(images * val_fraction)), 1), images - 1)
    perm = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAM])).permutation(images)
    return np.sort(perm[:n_val])


def _category(kind: str, meta: DatasetMeta) -> dict[str, Any]:
    return {
        "id": 1,
        "name": CATEGORY_NAMES[kind],
        "supercategory": CATEGORY_NAMES[kind],
        "keypoints": list(meta.keypoint_names),
        "skeleton": (meta.skeleton + 1).tolist(),
    }


def _coco(records: list[tuple[str, Scene]], rows: np.ndarray, category: dict[str, Any], info: dict[str, Any], k: int) -> CocoData:
    """The COCO arrays of the images ``rows``; image and annotation ids are global (1-based)."""
    scenes = [records[r][1] for r in rows]
    counts = np.array([len(s.areas) for s in scenes], np.int64)
    first = np.cumsum([0] + [len(rec[1].areas) for rec in records])
    ann_ids = np.concatenate([first[r] + np.arange(1, c + 1) for r, c in zip(rows, counts)])

    def cat(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        parts = [getattr(s, name) for s in scenes]
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

    n = int(counts.sum())
    return CocoData(
        image_ids=rows.astype(np.int64) + 1,
        file_names=[records[r][0] for r in rows],
        widths=np.array([s.width for s in scenes], np.int64),
        heights=np.array([s.height for s in scenes], np.int64),
        ann_ids=ann_ids.astype(np.int64),
        ann_image_ids=np.repeat(rows.astype(np.int64) + 1, counts),
        category_ids=np.ones(n, np.int64),
        bboxes=cat("bboxes", (0, 4), np.float32),
        keypoints=cat("keypoints", (0, k, 2), np.float32),
        visibility=cat("visibility", (0, k), np.uint8),
        iscrowd=np.zeros(n, bool),
        areas=cat("areas", (0,), np.float32),
        categories=[category],
        info=info,
    )


@contextlib.contextmanager
def _bar(enabled: bool, total: int, kind: str) -> Iterator[Any]:
    """A rich progress bar on stderr (a no-op when disabled)."""
    columns = (TextColumn(f"synth {kind}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False) as progress:
        task = progress.add_task("synth", total=total)
        yield lambda: progress.advance(task)


def generate(
    out: str | Path,
    *,
    kind: str = "human",
    images: int = DEFAULT_IMAGES,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    val_fraction: float = 0.2,
    progress: bool = True,
) -> dict[str, Any]:
    """Write a synthetic dataset folder at ``out`` (atomically) and return a summary."""
    out = Path(out)
    _check(kind, images, seed, size, val_fraction)
    _check_out(out)
    meta = load_meta(PRESETS[kind])
    category = _category(kind, meta)
    info = {"description": f"posepipe synthetic {kind} keypoints", "version": str(SYNTH_VERSION), "seed": seed, "kind": kind}
    val = val_rows(images, val_fraction, seed)
    train = np.setdiff1d(np.arange(images), val)
    start = time.perf_counter()
    records: list[tuple[str, Scene]] = []
    with atomic_dir(out) as tmp, _bar(progress, images, kind) as advance:
        (tmp / IMAGES).mkdir()
        for i in range(images):
            scene = render_scene(image_rng(seed, i), kind, size)
            ok, buf = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for image {i}")
            name = f"{i:06d}.jpg"
            (tmp / IMAGES / name).write_bytes(buf.tobytes())
            scene.image = None
            records.append((name, scene))
            advance()
        splits = {name: _coco(records, rows, category, info, meta.num_keypoints) for name, rows in (("train", train), ("val", val))}
        for split, data in splits.items():
            save_coco(data, tmp / ANNOTATIONS / f"{split}.json")
        meta.save(tmp / META)
    seconds = time.perf_counter() - start
    return _summary(out, kind, meta, seed, splits, seconds)


def _summary(out: Path, kind: str, meta: DatasetMeta, seed: int, splits: dict[str, CocoData], seconds: float) -> dict[str, Any]:
    vis = np.concatenate([d.visibility.ravel() for d in splits.values()])
    images = sum(len(d.image_ids) for d in splits.values())
    return {
        "out": str(out),
        "kind": kind,
        "meta": meta.name,
        "seed": seed,
        "version": SYNTH_VERSION,
        "images": {s: len(d.image_ids) for s, d in splits.items()},
        "instances": {s: len(d) for s, d in splits.items()},
        "pose_instances": {s: int((d.num_labelled > 0).sum()) for s, d in splits.items()},
        "keypoints": {"visible": int((vis == 2).sum()), "occluded": int((vis == 1).sum()), "unlabelled": int((vis == 0).sum())},
        "seconds": round(seconds, 3),
        "images_per_s": round(images / max(seconds, 1e-9), 2),
    }
