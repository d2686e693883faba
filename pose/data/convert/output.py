"""Write what a converter collected as the canonical dataset folder (images/, annotations/, meta.yaml).

Shared by the converters so that image placement, box derivation, the drafted meta and the
report counts are the same for every source format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose.data.coco import boxes_from_keypoints, build_coco, resolve_image_path, save_coco
from pose.data.convert.imagefiles import place_image
from pose.data.convert.report import ConversionReport
from pose.data.image import read_image_size
from pose.data.layout import ANNOTATIONS, IMAGES, META
from pose.data.meta import DatasetMeta
from pose.errors import DataError


@dataclass(eq=False)
class Collected:
    """Images and instances read from a source. Row ``i`` of the ``ann`` arrays is instance ``i``.

    ``bboxes`` (N, 4) xyxy may be None (all derived from keypoints) or hold NaN rows (those
    derived); ``file_names`` are the images' names under ``images/`` and must be unique.
    """

    image_files: list[Path]
    file_names: list[str]
    widths: np.ndarray  # (M,) int64
    heights: np.ndarray  # (M,) int64
    ann_image_rows: np.ndarray  # (N,) int64
    keypoints: np.ndarray  # (N, K, 2) float32
    visibility: np.ndarray  # (N, K) uint8
    bboxes: np.ndarray | None = None


def image_sizes(paths: Sequence[Path], *, entries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(M,) widths and heights from the image headers; a missing image names its source entry."""
    sizes = [read_image_size(p, entry=e) for p, e in zip(paths, entries)]
    arr = np.asarray(sizes, np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def draft_meta(
    name: str, keypoints: list[str], *, skeleton: Sequence[tuple[str, str]] = (), category: str = "object", source: str | Path = "<memory>"
) -> DatasetMeta:
    """A meta from the source's names: swap partners derived from left/right naming, no sigmas."""
    d = {"name": name, "category": category, "keypoints": list(keypoints), "skeleton": [list(link) for link in skeleton], "sigmas": None}
    return DatasetMeta.from_dict(d, source=str(source))


def write_dataset(out_dir: Path, data: Collected, meta: DatasetMeta, *, split: str, report: ConversionReport) -> None:
    """Place the images, write ``annotations/<split>.json`` and ``meta.yaml``; fill the report counts."""
    if len(data.ann_image_rows) == 0:
        raise DataError("no labelled instances found: the converted dataset would be empty", file=report.source)
    images = out_dir / IMAGES
    seen: dict[str, Path] = {}
    for f, name in zip(data.image_files, data.file_names):
        resolve_image_path(images, name, source=report.source, entry=str(f))
        if name in seen:
            raise DataError(f"image listed twice (also as {seen[name]})", file=report.source, entry=name)
        seen[name] = f
    rows = np.asarray(data.ann_image_rows, np.int64)
    bboxes = data.bboxes
    if bboxes is not None:
        bboxes = np.array(bboxes, np.float32, copy=True)
        derive = np.isnan(bboxes).any(axis=1)
        if derive.any():
            derived, _ = boxes_from_keypoints(
                data.keypoints[derive], data.visibility[derive], widths=data.widths[rows[derive]], heights=data.heights[rows[derive]]
            )
            bboxes[derive] = derived
            report.derived["bbox (from keypoints)"] += int(derive.sum())
    links = (meta.skeleton + 1).tolist()
    category = {"id": 1, "name": meta.category, "supercategory": meta.category, "keypoints": meta.keypoint_names, "skeleton": links}
    coco = build_coco(
        file_names=data.file_names,
        widths=data.widths,
        heights=data.heights,
        ann_image_rows=rows,
        keypoints=data.keypoints,
        visibility=data.visibility,
        categories=[category],
        bboxes=bboxes,
        source=report.source,
    )
    report.derived.update(coco.filled)
    for f, name in zip(data.image_files, data.file_names):
        place_image(f, images / name)
    save_coco(coco, out_dir / ANNOTATIONS / f"{split}.json")
    meta.save(out_dir / META)
    report.images = len(data.file_names)
    report.instances = len(rows)
    report.keypoints = meta.num_keypoints
