"""Draft a dataset meta from a COCO keypoints file (``pose data meta-from-coco``): the first
category with keypoint names (or the one asked for), OKS sigmas as numbers or copied from a preset."""

from __future__ import annotations

from pathlib import Path

from pose.data.coco import read_json
from pose.data.meta import PRESETS, DatasetMeta, load_meta, meta_from_coco_category
from pose.errors import ConfigError, DataError


def parse_sigmas(text: str | None) -> list[float] | None:
    """``"0.05,0.06"`` -> numbers; a preset name -> that preset's sigmas; empty -> None."""
    if not text:
        return None
    if text in PRESETS:
        s = load_meta(text).sigmas
        return None if s is None else s.tolist()
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"not a list of numbers: '{text}'", entry="--sigmas", hint=f"e.g. 0.05,0.05 or a preset: {', '.join(PRESETS)}") from None


def meta_from_coco_file(annotations: Path, *, name: str | None = None, category_id: int | None = None,
                        sigmas: str | None = None) -> DatasetMeta:
    """The drafted meta (names, skeleton, left/right swap partners) of ``annotations``' category."""
    d = read_json(annotations)
    cats = [c for c in (d.get("categories") or []) if isinstance(c, dict)] if isinstance(d, dict) else []
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
    cats = [c for c in cats if c.get("keypoints")]
    if not cats:
        raise DataError("no category with keypoint names", file=annotations, entry="categories" if category_id is None else f"categories[id={category_id}]")
    return meta_from_coco_category(cats[0], name=name, sigmas=parse_sigmas(sigmas), source=str(annotations))
