"""The canonical dataset folder: ``annotations/<split>.json`` (COCO), ``images/``, ``meta.yaml``.

Every converter writes it and every stage reads it. A loose COCO file plus ``--images DIR``
(and ``--meta``) is accepted wherever a dataset folder is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pose.data.coco import CocoData, load_coco, read_json
from pose.data.coco_strict import check_top_level
from pose.data.meta import PRESETS, DatasetMeta, load_meta, meta_from_coco_category
from pose.errors import DataError

ANNOTATIONS = "annotations"
IMAGES = "images"
META = "meta.yaml"


@dataclass(frozen=True)
class DatasetSource:
    """Where one split's annotations, images and meta are."""

    annotations: Path
    images: Path
    meta: Path | str | None  # a YAML path, a preset name, or None (draft from the categories)


def split_file(root: Path, split: str) -> Path:
    return root / ANNOTATIONS / f"{split}.json"


def splits(root: Path) -> list[str]:
    """Split names present in a dataset folder, ``train`` and ``val`` first."""
    names = sorted(p.stem for p in (root / ANNOTATIONS).glob("*.json"))
    order = {"train": 0, "val": 1, "test": 2}
    return sorted(names, key=lambda n: (order.get(n, 3), n))


def resolve_source(
    path: str | Path, *, split: str = "train", images: str | Path | None = None, meta: str | Path | None = None
) -> DatasetSource:
    """A dataset folder (and split) or a loose COCO JSON file, to concrete paths."""
    path = Path(path)
    if path.is_dir():
        ann = split_file(path, split)
        if not ann.is_file():
            have = ", ".join(splits(path)) or "none"
            raise DataError(f"no split '{split}' (have: {have})", file=path / ANNOTATIONS, hint="a dataset folder holds annotations/<split>.json")
        img = Path(images) if images is not None else path / IMAGES
        m: Path | str | None = meta if meta is not None else (path / META if (path / META).is_file() else None)
        return DatasetSource(ann, img, m)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.exists():
            raise DataError("file not found", file=path)
        img = Path(images) if images is not None else path.parent
        return DatasetSource(path, img, meta)
    raise DataError("no such dataset folder or annotation file", file=path)


def preset_for(names: list[str]) -> DatasetMeta | None:
    """The built-in preset whose keypoint names are exactly ``names`` (so its sigmas apply)."""
    for p in PRESETS:
        m = load_meta(p)
        if m.keypoint_names == list(names):
            return m
    return None


def load_source_meta(src: DatasetSource) -> DatasetMeta:
    """The meta of a source; drafted from the file's first keypoint category when none is given."""
    if src.meta is not None:
        return load_meta(src.meta)
    d = read_json(src.annotations)
    check_top_level(d, source=str(src.annotations))
    for c in d["categories"]:
        if isinstance(c, dict) and c.get("keypoints"):
            return preset_for(c["keypoints"]) or meta_from_coco_category(c, source=str(src.annotations))
    raise DataError("no meta.yaml and no category with keypoint names", file=src.annotations, entry="categories", hint="pass --meta META.yaml or a preset name")


def load_dataset(
    path: str | Path, *, split: str = "train", images: str | Path | None = None, meta: str | Path | None = None
) -> tuple[CocoData, DatasetMeta]:
    """Load one split with its meta; the keypoint counts must agree."""
    src = resolve_source(path, split=split, images=images, meta=meta)
    m = load_source_meta(src)
    data = load_coco(src.annotations, image_root=src.images, num_keypoints=m.num_keypoints)
    return data, m
