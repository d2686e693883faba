"""``pose data show``: a grid of training crops with their skeletons, to eyeball labels and flips.

Each sampled instance gets its plain crop (no augmentation) and, with ``augment``, the same
instance after the training augmentation with the flip forced on, side by side. In a correct
flip the left-side colour (green for COCO) stays on the person's left limbs in both tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pose.data.coco import CocoData
from pose.data.dataset import TopdownDataset
from pose.data.draw import draw_instances, grid, label
from pose.data.meta import DatasetMeta
from pose.data.transforms import AugConfig
from pose.errors import DataError
from pose.fileio import write_bytes

PAIRS_PER_ROW = 4


def _tile(sample: dict, meta: DatasetMeta, text: str) -> np.ndarray:
    bgr = np.ascontiguousarray(sample["image"].numpy().transpose(1, 2, 0)[:, :, ::-1])
    kp = sample["keypoints"].numpy()[None]
    vis = sample["visibility"].numpy()[None]
    return label(draw_instances(bgr, kp, vis, meta), text)


@dataclass(frozen=True)
class GridOptions:
    """``num`` labelled instances chosen with ``seed``, as ``input_size`` crops; with ``augment``
    each beside the same instance augmented with the flip forced on."""

    num: int = 16
    seed: int = 0
    input_size: tuple[int, int] = (192, 256)
    augment: bool = True


def render_grid(data: CocoData, meta: DatasetMeta, o: GridOptions = GridOptions()) -> np.ndarray:
    """The BGR grid image."""
    plain = TopdownDataset(data, meta, input_size=o.input_size, train=True, aug=AugConfig.off())
    if len(plain) == 0:
        raise DataError("no instance with labelled keypoints to show", file=data.source)
    rng = np.random.default_rng(o.seed)
    picks = np.sort(rng.choice(len(plain), size=min(o.num, len(plain)), replace=False))
    flipped = TopdownDataset(data, meta, input_size=o.input_size, train=True, aug=replace(AugConfig(), flip_prob=1.0))
    tiles = []
    for i in picks.tolist():
        s = plain.get(i)
        tiles.append(_tile(s, meta, f"img {s['image_id']} ann {s['ann_id']}"))
        if o.augment:
            a = flipped.get(i, rng)
            tiles.append(_tile(a, meta, f"flip rot {a['rotation']:+.0f} zoom {float(s['scale'][0] / a['scale'][0]):.2f}"))
    return grid(tiles, min(2 * PAIRS_PER_ROW, len(tiles)))


def show_grid(data: CocoData, meta: DatasetMeta, out: Path, options: GridOptions = GridOptions()) -> Path:
    """Write the preview grid to ``out`` (format from its suffix, atomically) and return it."""
    out = Path(out)
    image = render_grid(data, meta, options)
    try:
        ok, buf = cv2.imencode(out.suffix or ".png", image)
    except cv2.error:
        ok = False
    if not ok:
        raise DataError("cannot encode an image with this suffix (use .png or .jpg)", file=out)
    write_bytes(out, buf.tobytes())
    return out
