"""Left/right sanity: suspected swapped labels, and the flip-check picture of a meta's swap pairs.

Orientation rule (used by ``suspect_swaps``). For each instance the body axis runs from the mean
of its labelled "lower" keypoints to the mean of its labelled "upper" ones (hips -> shoulders,
tail -> head). For each flip pair the sign of ``cross(axis, left - right)`` says on which side of
the axis the left point lies. That sign does not depend on where the subject is in the image or
how it is rotated, but it does flip between a person facing the camera and one facing away, so
it is never compared with a fixed "correct" side. Instead:

* within an instance all pairs must agree (one body, one orientation); the instance's
  orientation is the majority sign of its decisive pairs (perpendicular offset above
  ``MIN_OFFSET`` of the instance size, so side views with overlapping legs do not vote). A
  PAIR is flagged when it disagrees with its own instance's orientation in most of the
  instances with at least ``MIN_PAIRS`` decisive pairs (a systematic label or meta swap; one
  instance with crossed arms is not enough).
* across instances, only when one orientation dominates (at least ``DOMINANT`` of the decided
  instances, e.g. a fixed top-view camera), an INSTANCE whose orientation is the minority is
  flagged (its left/right labels are probably all swapped). Datasets that mix people facing the
  camera and away never reach that share, so nobody is flagged for facing away.

Metas with no upper/lower split (faces, hands) have no body axis and are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pose.data.draw import draw_instances, fit, grid, label
from pose.data.image import read_image
from pose.data.meta import CENTER_COLOR, LEFT_COLOR, RIGHT_COLOR, DatasetMeta
from pose.errors import DataError
from pose.fileio import write_bytes

MIN_OFFSET = 0.05
MIN_PAIRS = 3
MIN_INSTANCES = 5
DOMINANT = 0.9
_LEFT = re.compile(r"(?i)left|(?<![a-z])l(?![a-z])")
_RIGHT = re.compile(r"(?i)right|(?<![a-z])r(?![a-z])")


@dataclass(frozen=True)
class SwapSuspect:
    """A pair swapped in most instances (``rows`` empty) or instances mirrored against the rest."""

    kind: str  # "pair" | "instance"
    message: str
    pair: tuple[int, int] | None = None
    rows: tuple[int, ...] = ()


def oriented_pairs(meta: DatasetMeta) -> np.ndarray:
    """(P, 2) flip pairs as (left, right) by name; pairs whose left member is not named are dropped."""
    pairs = meta.flip_pairs
    names = meta.keypoint_names
    first_left = np.array([bool(_LEFT.search(names[a])) for a, _ in pairs], bool)
    second_left = np.array([bool(_LEFT.search(names[b])) for _, b in pairs], bool)
    out = np.where(first_left[:, None], pairs, pairs[:, ::-1])
    return out[first_left ^ second_left].reshape(-1, 2)


def pair_signs(keypoints: np.ndarray, visibility: np.ndarray, meta: DatasetMeta, pairs: np.ndarray) -> np.ndarray:
    """(N, P) side of each left point relative to the body axis: +1, -1, or 0 when undecided."""
    lab = visibility > 0
    xy = np.where(lab[..., None], keypoints, 0.0).astype(np.float64)

    def centroid(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = lab[:, ids].sum(axis=1)
        return xy[:, ids].sum(axis=1) / np.maximum(n, 1)[:, None], n > 0

    up, has_up = centroid(meta.upper_ids)
    low, has_low = centroid(meta.lower_ids)
    axis = up - low
    norm = np.linalg.norm(axis, axis=1)
    lo = np.where(lab[..., None], xy, np.inf).min(axis=1)
    hi = np.where(lab[..., None], xy, -np.inf).max(axis=1)
    size = np.where(lab.any(axis=1), np.linalg.norm(np.where(lab.any(axis=1)[:, None], hi - lo, 0.0), axis=1), 0.0)
    d = xy[:, pairs[:, 0]] - xy[:, pairs[:, 1]]
    cross = axis[:, None, 0] * d[..., 1] - axis[:, None, 1] * d[..., 0]
    perp = cross / np.maximum(norm, 1e-9)[:, None]
    ok = lab[:, pairs[:, 0]] & lab[:, pairs[:, 1]] & (has_up & has_low & (norm > 0))[:, None]
    decisive = ok & (np.abs(perp) > MIN_OFFSET * size[:, None])
    return np.where(decisive, np.sign(cross), 0.0).astype(np.int8)


def suspect_swaps(keypoints: np.ndarray, visibility: np.ndarray, meta: DatasetMeta) -> list[SwapSuspect]:
    """Pairs and instances whose left/right labels look swapped (rule in the module docstring)."""
    pairs = oriented_pairs(meta)
    if len(pairs) == 0 or len(meta.upper_ids) == 0 or len(meta.lower_ids) == 0 or len(keypoints) == 0:
        return []
    names = meta.keypoint_names
    s = pair_signs(keypoints, visibility, meta, pairs)
    n_dec = (s != 0).sum(axis=1)
    orient = np.sign(s.sum(axis=1, dtype=np.int64))
    out: list[SwapSuspect] = []

    voters = (n_dec >= MIN_PAIRS) & (orient != 0)
    wrong = (s != 0) & (s != orient[:, None]) & voters[:, None]
    seen = ((s != 0) & voters[:, None]).sum(axis=0)
    frac = wrong.sum(axis=0) / np.maximum(seen, 1)
    for p in np.flatnonzero((seen >= MIN_INSTANCES) & (frac > 0.5)):
        left, right = names[pairs[p, 0]], names[pairs[p, 1]]
        out.append(SwapSuspect(
            "pair",
            f"{left} is on the {right} side of the body in {frac[p]:.0%} of {seen[p]} instances "
            "(the other pairs agree with each other): labels or the meta's swap partners look swapped",
            pair=(int(pairs[p, 0]), int(pairs[p, 1])),
            rows=tuple(int(r) for r in np.flatnonzero(wrong[:, p])[:20]),
        ))

    decided = orient != 0
    if decided.sum() >= 2 * MIN_INSTANCES:
        major = 1 if (orient[decided] > 0).sum() >= (orient[decided] < 0).sum() else -1
        share = float((orient[decided] == major).mean())
        if share >= DOMINANT and share < 1.0:
            rows = np.flatnonzero(orient == -major)
            out.append(SwapSuspect(
                "instance",
                f"mirrored relative to {share:.0%} of {int(decided.sum())} instances: "
                "its left/right labels look swapped (or it is the only one seen from the other side)",
                rows=tuple(int(r) for r in rows),
            ))
    return out


def _side_meta(meta: DatasetMeta) -> DatasetMeta:
    """The meta with keypoints coloured by the side their NAME says (left green, right orange).

    Colours follow the names, not the flip map, so a missing or wrong swap pair shows up as a
    colour that jumps sides between the two tiles. Pairs with unnamed sides use pair order.
    """
    cols = np.tile(np.array(CENTER_COLOR, np.uint8), (meta.num_keypoints, 1))
    unnamed = meta.flip_pairs[~np.isin(meta.flip_pairs[:, 0], oriented_pairs(meta).reshape(-1))]
    cols[unnamed[:, 0]] = LEFT_COLOR
    cols[unnamed[:, 1]] = RIGHT_COLOR
    for i, n in enumerate(meta.keypoint_names):
        if _LEFT.search(n) and not _RIGHT.search(n):
            cols[i] = LEFT_COLOR
        elif _RIGHT.search(n) and not _LEFT.search(n):
            cols[i] = RIGHT_COLOR
    return replace(meta, keypoint_colors=cols)


def flip_check_image(
    image: np.ndarray, keypoints: np.ndarray, visibility: np.ndarray, bbox: np.ndarray, meta: DatasetMeta, *, size: int = 320
) -> np.ndarray:
    """Two tiles: the instance as labelled, and the image mirrored with keypoints swapped by the meta.

    With a correct flip map each keypoint number sits on the same body part in both tiles and the
    green (left) / orange (right) colours stay on the same side of the picture.
    """
    h, w = image.shape[:2]
    bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
    x0, y0 = int(max(0, np.floor(bbox[0] - 0.15 * bw))), int(max(0, np.floor(bbox[1] - 0.15 * bh)))
    x1, y1 = int(min(w, np.ceil(bbox[2] + 0.15 * bw))), int(min(h, np.ceil(bbox[3] + 0.15 * bh)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, w, h
    crop = image[y0:y1, x0:x1]
    kp = keypoints.astype(np.float32) - np.array([x0, y0], np.float32)
    side = _side_meta(meta)
    scale = size / max(crop.shape[:2])
    radius = max(2, int(round(3 / max(scale, 1e-3))))
    shown = draw_instances(crop, kp, visibility, side, radius=radius, show_index=True)
    flipped_kp = kp.copy()
    flipped_kp[:, 0] = crop.shape[1] - 1 - flipped_kp[:, 0]
    fi = meta.flip_indices
    mirrored = draw_instances(np.ascontiguousarray(crop[:, ::-1]), flipped_kp[fi], visibility[fi], side, radius=radius, show_index=True)
    tiles = [label(fit(shown, size), "as labelled"), label(fit(mirrored, size), "mirrored + meta swap pairs")]
    pic = grid(tiles, cols=2)
    band = np.zeros((36, pic.shape[1], 3), np.uint8)
    cv2.putText(band, "green=left orange=right: same numbers on the same body parts in both tiles", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(band, "if colours or numbers jump sides, the flip map is wrong", (4, 29), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([pic, band], axis=0)


def save_flip_check(
    path: str | Path,
    meta: DatasetMeta,
    keypoints: np.ndarray,
    visibility: np.ndarray,
    bbox: np.ndarray,
    *,
    image_path: Path | None = None,
    image_size: tuple[int, int] | None = None,
) -> Path:
    """Write the flip-check PNG for one instance; a grey canvas stands in for a missing image."""
    image = None
    if image_path is not None:
        try:
            image = read_image(image_path)
        except DataError:
            image = None
    if image is None:
        w, h = image_size or (int(np.ceil(bbox[2])) + 1, int(np.ceil(bbox[3])) + 1)
        image = np.full((max(h, 2), max(w, 2), 3), 96, np.uint8)
    pic = flip_check_image(image, keypoints, visibility, bbox, meta)
    ok, buf = cv2.imencode(".png", pic)
    if not ok:
        raise DataError("cannot encode the flip-check picture", file=path)
    write_bytes(path, buf.tobytes())
    return Path(path)
