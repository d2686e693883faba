"""Raw inputs (``data/``) -> the canonical dataset ``build/dataset`` (the ``prepare`` stage),
and the bootstrap that makes ``data/`` exist on a fresh clone (``ensure_data``).

``data/`` is DVC's input of record (``data.dvc``); no stage writes inside it. For the embedded
source, ``ensure_data`` regenerates ``data/synth`` from ``params/data.yaml`` (deterministic, so the
bytes match ``data.dvc``); for other sources it pulls from the DVC remote when one is configured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from pose.data.coco import read_json
from pose.data.layout import ANNOTATIONS, IMAGES, META, split_file, splits
from pose.errors import ConfigError, DataError
from pose.fileio import atomic_dir, write_json
from pose.params import DataParams

SYNTH_DIR = "data/synth"


def source_dir(root: Path, params: DataParams) -> Path:
    """Where the raw input of ``params`` lives (``data/synth`` for the embedded source)."""
    if params.source == "synth":
        return root / SYNTH_DIR
    if not params.path:
        raise ConfigError(f"source '{params.source}' needs a path under data/", file="params/data.yaml", entry="path")
    path = Path(params.path)
    path = path if path.is_absolute() else root / path
    if not path.resolve().is_relative_to((root / "data").resolve()):
        raise ConfigError("raw inputs live under data/ (tracked by data.dvc)", file="params/data.yaml", entry="path",
                          hint="move or copy the source into data/")
    return path


def synth_matches(folder: Path, params: DataParams) -> bool:
    """True when ``folder`` is the embedded dataset that ``params.synth`` describes."""
    from pose.data.synth import SYNTH_VERSION, val_rows

    s = params.synth
    try:
        train, val = (read_json(split_file(folder, n)) for n in ("train", "val"))
    except (DataError, OSError):
        return False
    info = train.get("info") or {}
    images = train.get("images", []) + val.get("images", [])
    sizes = [max(int(im.get("width", 0)), int(im.get("height", 0))) for im in images]
    return (info.get("kind") == s.kind and info.get("seed") == s.seed and str(info.get("version")) == str(SYNTH_VERSION)
            and len(images) == s.images and len(val.get("images", [])) == len(val_rows(s.images, s.val_fraction, s.seed))
            and bool(sizes) and max(sizes) == s.size and (folder / META).is_file())


def has_remote(root: Path) -> bool:
    for name in ("config", "config.local"):
        cfg = root / ".dvc" / name
        if cfg.is_file() and "remote" in cfg.read_text("utf-8"):
            return True
    return False


def ensure_data(root: str | Path, params: DataParams, *, dvc: str = "dvc") -> str:
    """Make the raw input of ``params`` present under ``data/``; returns what was done."""
    root = Path(root)
    src = source_dir(root, params)
    if params.source == "synth":
        if synth_matches(src, params):
            return f"{src.relative_to(root)} is up to date"
        from pose.data.synth import generate

        s = params.synth
        generate(src, kind=s.kind, images=s.images, seed=s.seed, size=s.size, val_fraction=s.val_fraction, progress=False)
        return f"generated {src.relative_to(root)} ({s.images} {s.kind} images, seed {s.seed})"
    if src.exists():
        return f"{src.relative_to(root)} is present"
    if has_remote(root) and (root / "data.dvc").is_file():
        r = subprocess.run([dvc, "pull", "data.dvc"], cwd=root, capture_output=True, text=True, check=False)
        if r.returncode == 0 and src.exists():
            return f"pulled {src.relative_to(root)} from the DVC remote"
        raise DataError(f"dvc pull failed: {' '.join((r.stderr or r.stdout).split())[:300]}", file=src)
    raise DataError("raw input not found and no DVC remote configured", file=src,
                    hint="copy your source there, or `dvc remote add -d ...` then `dvc pull`")


def split_by_image(train: dict[str, Any], val_fraction: float, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split one COCO dict into (train, val) by image (at least one image each)."""
    images = train.get("images") or []
    if len(images) < 2:
        raise DataError(f"need at least 2 images to split off a val set, got {len(images)}", entry="images")
    n_val = min(max(int(round(len(images) * val_fraction)), 1), len(images) - 1)
    order = np.random.default_rng(seed).permutation(len(images))
    is_val = np.zeros(len(images), bool)
    is_val[order[:n_val]] = True
    ids = np.array([im["id"] for im in images])
    anns = train.get("annotations") or []
    ann_val = np.isin(np.array([a["image_id"] for a in anns]), ids[is_val]) if anns else np.zeros(0, bool)

    def part(img_mask: np.ndarray, ann_mask: np.ndarray) -> dict[str, Any]:
        return {**train, "images": [images[i] for i in np.flatnonzero(img_mask)],
                "annotations": [anns[i] for i in np.flatnonzero(ann_mask)]}

    return part(~is_val, ~ann_val), part(is_val, ann_val)


def _convert(params: DataParams, src: Path, tmp: Path) -> None:
    """Fill ``tmp`` with a dataset folder from ``src`` in ``params.source`` format."""
    if params.source in ("synth", "coco"):
        if not (src / ANNOTATIONS).is_dir():
            raise DataError("not a dataset folder (no annotations/)", file=src, hint="see README: The dataset folder")
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        return
    from pose.data.convert import run_convert

    staged = tmp.parent / (tmp.name + ".convert")
    try:
        run_convert(params.source, src, staged, split="train", overwrite=True)
        shutil.copytree(staged, tmp, dirs_exist_ok=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def prepare(root: str | Path, params: DataParams, out: str | Path) -> dict[str, Any]:
    """Write the canonical dataset for ``params`` at ``out`` (atomically); returns a summary."""
    root = Path(root)
    src = source_dir(root, params)
    if not src.exists():
        raise DataError("raw input not found", file=src, hint="run `pose pipeline data` (or `make pipeline`) first")
    if params.source == "synth" and not synth_matches(src, params):
        raise DataError("data/synth does not match params/data.yaml synth.*", file=src, hint="run `pose pipeline data` to regenerate it")
    with atomic_dir(out) as tmp:
        _convert(params, src, tmp)
        if params.meta:
            from pose.data.meta import load_meta

            load_meta(params.meta).save(tmp / META)
        have = splits(tmp)
        if "train" not in have:
            raise DataError(f"the source has no train split (have: {', '.join(have) or 'none'})", file=src)
        if "val" not in have:
            train, val = split_by_image(read_json(split_file(tmp, "train")), params.val_fraction, params.split_seed)
            write_json(split_file(tmp, "train"), train)
            write_json(split_file(tmp, "val"), val)
        (tmp / IMAGES).mkdir(exist_ok=True)
        summary = {"source": params.source, "input": str(src.relative_to(root)) if src.is_relative_to(root) else str(src),
                   "splits": {n: _counts(tmp, n) for n in splits(tmp)}}
    return summary


def _counts(folder: Path, split: str) -> dict[str, int]:
    d = json.loads(split_file(folder, split).read_text("utf-8"))
    return {"images": len(d.get("images") or []), "instances": len(d.get("annotations") or [])}
