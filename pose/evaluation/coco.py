"""COCO keypoint AP/AR with the dataset's own OKS sigmas, scored by the reference pycocotools.

Pipeline (MMPose's ``CocoMetric`` with ``score_mode='bbox_keypoint'``, ``nms_mode='oks_nms'``):

1. Parse and check the results (a COCO results list, optionally with ``bbox_score``,
   ``bbox`` and ``ann_id``); mistakes raise a ``DataError`` naming the file and the entry.
2. Rescore: where an entry carries ``bbox_score``, ``score = bbox_score x mean of its keypoint
   scores above 0.2`` (0 when none is). Without ``bbox_score`` the given ``score`` is kept.
3. OKS-NMS per image and category (threshold 0.9), vectorised over all pairs of an image.
4. Dump the kept results as a COCO results JSON (atomic write) and score *that file* with
   ``COCO.loadRes`` + ``COCOeval(iouType="keypoints")``: what is scored is what is saved.

Results that carry ``ann_id`` (a GT annotation id: evaluation on ground-truth boxes) also get
PCK@0.05/0.1, AUC, EPE and NME from :mod:`pose.evaluation.pck` on those GT-matched predictions.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from pose.data.coco import CocoData, read_json
from pose.data.coco_parse import Column, KeypointProblem, Section, boxes, floats, ints, keypoint_rows
from pose.data.meta import DatasetMeta
from pose.errors import DataError
from pose.evaluation import pck as pckm
from pose.evaluation.keys import COCO_KEYS, FRACTION_KEYS
from pose.fileio import write_json

#: Keypoint scores at or below this do not count towards the instance score (MMPose: 0.2).
KPT_SCORE_THR = 0.2
#: Detections whose OKS with a better-scored one exceeds this are dropped (MMPose: 0.9).
NMS_THR = 0.9
#: Name of the dumped results file inside ``out_dir``.
RESULTS_NAME = "keypoint_results.json"
#: Element budget of one batched OKS block (B x n x n x K floats).
_OKS_BLOCK = 4_000_000


@dataclass(eq=False)
class Predictions:
    """A results list as arrays; ``bbox_scores``/``areas`` NaN and ``ann_ids`` -1 where absent."""

    image_ids: np.ndarray  # (R,) int64
    category_ids: np.ndarray  # (R,) int64
    keypoints: np.ndarray  # (R, K, 2) float64
    kpt_scores: np.ndarray  # (R, K) float64
    scores: np.ndarray  # (R,) float64
    bbox_scores: np.ndarray  # (R,) float64
    areas: np.ndarray  # (R,) float64, box area (or keypoint extent) used by OKS-NMS
    ann_ids: np.ndarray  # (R,) int64
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.scores)


# ------------------------------------------------------------------------ parsing
def parse_results(results: list[dict[str, Any]] | str | Path, gt: CocoData) -> Predictions:
    """Check a COCO keypoint results list (or file) against ``gt`` and turn it into arrays."""
    source = str(results) if isinstance(results, (str, Path)) else "<results>"
    entries = read_json(results) if isinstance(results, (str, Path)) else results
    k = gt.num_keypoints

    def err(entry: str, msg: str) -> DataError:
        return DataError(msg, file=source, entry=entry, hint="results are a list of {image_id, category_id, keypoints, score}")

    if not isinstance(entries, list):
        raise err("<top>", f"expected a JSON list of results, got a JSON {type(entries).__name__}")
    rows = Section.of("results", entries)
    r = _ResultColumns.read(rows, k)
    _check_entries(rows, r, k, err)
    bad = [i for i, p in enumerate(r.kp_problems) if p is not None]
    if bad:
        raise err(f"[{rows.pos[bad[0]]}].keypoints", "keypoints must be numbers")
    kp = r.keypoints
    nonfinite = ~np.isfinite(kp).all(axis=(1, 2))
    if nonfinite.any():
        raise err(f"[{int(np.argmax(nonfinite))}].keypoints", "NaN or infinite keypoint value")
    img, cat = r.ints["image_id"].values, r.ints["category_id"].values
    ann = np.where(r.has["ann_id"], r.ints["ann_id"].values, -1)
    _check_ids(img, cat, ann, gt, err)
    wh = np.maximum(r.bbox.values[:, 2:], 0)
    area = np.where(r.has["bbox"], wh[:, 0] * wh[:, 1], np.nan)
    no_box = np.isnan(area)
    if no_box.any():
        ext = kp[no_box, :, :2].max(axis=1) - kp[no_box, :, :2].min(axis=1)
        area[no_box] = ext[:, 0] * ext[:, 1]
    bscore = np.where(r.has["bbox_score"], r.floats["bbox_score"].values, np.nan)
    return Predictions(img, cat, kp[..., :2], kp[..., 2], r.floats["score"].values, bscore, area, ann, source)


@dataclass(eq=False)
class _ResultColumns:
    """The fields of a results list, read by ``pose.data.coco_parse``."""

    has: dict[str, np.ndarray]  # key -> entries where it is there at all
    ints: dict[str, Column]
    floats: dict[str, Column]
    bbox: Column
    keypoints: np.ndarray  # (R, K, 3)
    kp_problems: list[KeypointProblem | None]

    @classmethod
    def read(cls, rows: Section, k: int) -> _ResultColumns:
        has = {key: rows.has(key) for key in ("image_id", "category_id", "keypoints", "score", "ann_id", "bbox_score", "bbox")}
        kp, problems = keypoint_rows(rows.get("keypoints"), k)
        return cls(
            has,
            {key: ints(rows.get(key)) for key in ("image_id", "category_id", "ann_id")},
            {key: floats(rows.get(key)) for key in ("score", "bbox_score")},
            boxes(rows.get("bbox")),
            kp,
            problems,
        )


_REQUIRED = ("image_id", "category_id", "keypoints", "score")


def _check_entries(rows: Section, r: _ResultColumns, k: int, err: Any) -> None:
    """Per entry, in this order: an object, the required keys, integer ids, 3K keypoint values,
    finite scores, a ``[x, y, w, h]`` bbox. The first entry at fault raises."""
    shape_bad = np.array([p is not None and p.kind != "number" for p in r.kp_problems], bool)
    finite_box = r.bbox.ok & np.isfinite(r.bbox.values).all(axis=1)
    checks = [~r.has[key] for key in _REQUIRED]
    checks += [~r.ints["image_id"].ok, ~r.ints["category_id"].ok, r.has["ann_id"] & ~r.ints["ann_id"].ok, shape_bad]
    checks += [r.has[key] & ~(r.floats[key].ok & np.isfinite(r.floats[key].values)) for key in ("score", "bbox_score")]
    checks += [r.has["bbox"] & ~finite_box]
    hit = rows.first_failing(checks)
    if hit is None:
        return
    pos, check, row = hit
    if check == 0:
        raise err(f"[{pos}]", "each result must be an object")
    e = rows.recs[row]
    if check <= 4:
        raise err(f"[{pos}]", f"missing '{_REQUIRED[check - 1]}'")
    if check <= 7:
        key = ("image_id", "category_id", "ann_id")[check - 5]
        raise err(f"[{pos}].{key}", f"must be an integer, got {e[key]!r}")
    if check == 8:
        kp = e["keypoints"]
        got = len(kp) if isinstance(kp, list) else type(kp).__name__
        raise err(f"[{pos}].keypoints", f"expected {3 * k} values (K={k} x [x, y, score]), got {got}")
    if check <= 10:
        key = ("score", "bbox_score")[check - 9]
        raise err(f"[{pos}].{key}", f"must be a finite number, got {e[key]!r}")
    raise err(f"[{pos}].bbox", f"bbox must be [x, y, w, h] numbers, got {e['bbox']!r}")


def _check_ids(img: np.ndarray, cat: np.ndarray, ann: np.ndarray, gt: CocoData, err: Any) -> None:
    bad = ~np.isin(img, gt.image_ids)
    if bad.any():
        i = int(np.argmax(bad))
        raise err(f"[{i}].image_id", f"image_id {img[i]} is not in the ground truth ({gt.source})")
    gt_cats = np.array([c["id"] for c in gt.categories], np.int64)
    bad = ~np.isin(cat, gt_cats)
    if bad.any():
        i = int(np.argmax(bad))
        raise err(f"[{i}].category_id", f"category_id {cat[i]} is not in the ground truth categories {gt_cats.tolist()}")
    idx = np.flatnonzero(ann >= 0)
    rows, found = ann_rows(gt, ann[idx])
    if not found.all():
        i = int(idx[np.argmin(found)])
        raise err(f"[{i}].ann_id", f"ann_id {ann[i]} is not a ground-truth annotation id")
    wrong = gt.ann_image_ids[rows] != img[idx]
    if wrong.any():
        j = int(np.argmax(wrong))
        raise err(f"[{idx[j]}].ann_id", f"annotation {ann[idx[j]]} belongs to image {gt.ann_image_ids[rows[j]]}, not {img[idx[j]]}")


def ann_rows(gt: CocoData, ann_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``gt`` holding the given annotation ids, and which ids were found at all."""
    if not len(gt.ann_ids):
        return np.zeros(len(ann_ids), np.int64), np.zeros(len(ann_ids), bool)
    order = np.argsort(gt.ann_ids)
    pos = np.minimum(np.searchsorted(gt.ann_ids[order], ann_ids), len(order) - 1)
    rows = order[pos]
    return rows, gt.ann_ids[rows] == ann_ids


# ------------------------------------------------------------------------ scoring
def rescore(bbox_scores: np.ndarray, kpt_scores: np.ndarray, thr: float = KPT_SCORE_THR) -> np.ndarray:
    """``bbox_score x mean(keypoint scores > thr)``, 0 where no keypoint passes (MMPose)."""
    s = np.asarray(kpt_scores, np.float64)
    above = s > thr
    n = above.sum(axis=1)
    mean = np.where(n > 0, np.where(above, s, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    return np.asarray(bbox_scores, np.float64) * mean


def oks_pairwise(kpts: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """OKS between all instance pairs: (..., n, K, 2), (..., n) -> (..., n, n).

    MMPose's ``oks_iou`` without a visibility threshold: every keypoint counts, the scale is
    the mean of the two areas.
    """
    var = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    k = np.asarray(kpts, np.float64)
    a = np.asarray(areas, np.float64)
    d2 = ((k[..., :, None, :, :] - k[..., None, :, :, :]) ** 2).sum(-1)
    scale = (a[..., :, None] + a[..., None, :]) / 2.0 + np.spacing(1)
    e = d2 / var / scale[..., None] / 2.0
    return np.exp(-e).mean(-1)


def oks_nms(
    kpts: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    groups: np.ndarray,
    sigmas: np.ndarray,
    thr: float = NMS_THR,
) -> np.ndarray:
    """Sorted indices kept by greedy OKS-NMS run separately within each group (image, category).

    Within a group, instances are visited by descending score (ties: lower index first); one
    is dropped when its OKS with an already kept one is above ``thr``. Groups of equal size are
    processed together as one batched array, so the only Python loop runs over group sizes and
    positions within a group, never over keypoints or pairs.
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((np.arange(n), -np.asarray(scores, np.float64), groups))
    g = np.asarray(groups)[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, n])
    keep = np.zeros(n, bool)
    kdim = kpts.shape[1]
    for size in np.unique(sizes):
        rows = starts[sizes == size][:, None] + np.arange(size)  # (B, size) positions in order
        if size == 1:
            keep[order[rows[:, 0]]] = True
            continue
        step = max(1, _OKS_BLOCK // int(size * size * kdim))
        for b0 in range(0, len(rows), step):
            idx = order[rows[b0 : b0 + step]]
            oks = oks_pairwise(kpts[idx], areas[idx], sigmas)
            suppressed = np.zeros(idx.shape, bool)
            for j in range(size):
                kept = ~suppressed[:, j]
                keep[idx[kept, j]] = True
                suppressed |= kept[:, None] & (oks[:, j, :] > thr)
    return np.flatnonzero(keep)


# ------------------------------------------------------------------------ dumping
def results_json(pred: Predictions, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
    """COCO results entries (flat ``[x, y, score] * K``) for the given rows (all by default)."""
    rows = np.arange(len(pred)) if rows is None else np.asarray(rows, np.int64)
    kp = np.concatenate([pred.keypoints[rows], pred.kpt_scores[rows, :, None]], axis=2)
    flat = np.round(kp.reshape(len(rows), 3 * kp.shape[1]), 4).tolist()
    out: list[dict[str, Any]] = []
    for r, kps in zip(rows.tolist(), flat):
        e: dict[str, Any] = {
            "image_id": int(pred.image_ids[r]),
            "category_id": int(pred.category_ids[r]),
            "keypoints": kps,
            "score": round(float(pred.scores[r]), 6),
        }
        if not np.isnan(pred.bbox_scores[r]):
            e["bbox_score"] = round(float(pred.bbox_scores[r]), 6)
        if pred.ann_ids[r] >= 0:
            e["ann_id"] = int(pred.ann_ids[r])
        out.append(e)
    return out


def coco_keypoint_stats(gt: CocoData, results_file: Path, sigmas: np.ndarray) -> dict[str, float | None]:
    """AP/AR of a results *file* by pycocotools' COCOeval; -1 (no GT in range) becomes None."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        coco_gt = COCO()
        coco_gt.dataset = gt.to_json()
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(str(results_file))
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {key: (None if v < 0 else float(v)) for key, v in zip(COCO_KEYS, ev.stats)}


# ------------------------------------------------------------------------ distances
def distance_metrics(gt: CocoData, pred: Predictions, meta: DatasetMeta, pck_thrs: tuple[float, ...]) -> dict[str, Any]:
    """PCK / PCKh / AUC / EPE / NME on predictions that name their GT annotation (``ann_id``).

    Eligible GT: not crowd, at least one labelled keypoint. When several results name the
    same annotation, the best-scored one is used. ``pck_missing`` counts eligible GT with no
    prediction; they are left out (not counted as misses).
    """
    has = np.flatnonzero(pred.ann_ids >= 0)
    if not len(has):
        return {}
    best = has[np.lexsort((-pred.scores[has], pred.ann_ids[has]))]
    first = np.r_[True, pred.ann_ids[best][1:] != pred.ann_ids[best][:-1]]
    best = best[first]
    rows, _ = ann_rows(gt, pred.ann_ids[best])
    eligible = ~gt.iscrowd & (gt.visibility > 0).any(axis=1)
    use = eligible[rows]
    rows, best = rows[use], best[use]
    p, g, mask = pred.keypoints[best], gt.keypoints[rows].astype(np.float64), gt.visibility[rows] > 0
    box = pckm.bbox_size(gt.bboxes[rows])
    out: dict[str, Any] = {f"PCK@{t:g}": pckm.pck(p, g, mask, box, t) for t in pck_thrs}
    names = meta.keypoint_names
    if "head_top" in names and "upper_neck" in names:
        head = pckm.keypoint_pair_size(g, names.index("head_top"), names.index("upper_neck"))
        head = np.where(mask[:, names.index("head_top")] & mask[:, names.index("upper_neck")], head, 0.0)
        out["PCKh@0.5"] = pckm.pck(p, g, mask, head, 0.5)
    out["AUC"] = pckm.auc(p, g, mask)
    out["EPE"] = pckm.epe(p, g, mask)
    out["NME"] = pckm.nme(p, g, mask, box)
    out["pck_instances"] = int(len(rows))
    out["pck_missing"] = int(eligible.sum() - len(rows))
    return out


# ------------------------------------------------------------------------ public API
def evaluate_keypoints(
    gt: CocoData,
    results: list[dict[str, Any]] | str | Path,
    meta: DatasetMeta,
    *,
    out_dir: str | Path | None = None,
    kpt_score_thr: float = KPT_SCORE_THR,
    nms_thr: float | None = NMS_THR,
    pck_thrs: tuple[float, ...] = (0.05, 0.1),
) -> dict[str, Any]:
    """All keypoint metrics of ``results`` on ``gt``, as one flat dict.

    Keys: ``AP AP50 AP75 APm APl AR`` (and ``AR50 AR75 ARm ARl``; None where the GT has no
    instance in that range), ``sigmas_defaulted``, counts, ``results_file``; with GT-matched
    results also ``PCK@a``, ``AUC``, ``EPE`` (pixels), ``NME`` (and ``PCKh@0.5`` for metas
    with ``head_top``/``upper_neck``). The post-processed results are written atomically to
    ``out_dir/keypoint_results.json`` (a temp folder when None) and scored from that file.
    """
    if meta.num_keypoints != gt.num_keypoints:
        raise DataError(
            f"meta '{meta.name}' has {meta.num_keypoints} keypoints, the ground truth {gt.num_keypoints}",
            file=gt.source,
            entry="categories",
            hint="pass the meta that matches this file",
        )
    sigmas, defaulted = meta.sigmas_or_default()
    pred = parse_results(results, gt)
    rescored = ~np.isnan(pred.bbox_scores)
    pred.scores[rescored] = rescore(pred.bbox_scores[rescored], pred.kpt_scores[rescored], kpt_score_thr)
    if nms_thr is None:
        keep = np.arange(len(pred))
    else:
        groups = pred.image_ids * (int(pred.category_ids.max(initial=0)) + 1) + pred.category_ids
        keep = oks_nms(pred.keypoints, pred.scores, pred.areas, groups, sigmas, nms_thr)
    with contextlib.ExitStack() as stack:
        folder = Path(out_dir) if out_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        results_file = folder / RESULTS_NAME
        write_json(results_file, results_json(pred, keep))
        stats = coco_keypoint_stats(gt, results_file, sigmas) if len(keep) else {key: 0.0 for key in COCO_KEYS}
    metrics: dict[str, Any] = dict(stats)
    metrics.update(distance_metrics(gt, pred, meta, pck_thrs))
    metrics.update(
        {
            "sigmas_defaulted": defaulted,
            "gt_boxes": bool(len(pred)) and bool((pred.ann_ids >= 0).all()),
            "num_gt": int((~gt.iscrowd & (gt.num_labelled > 0)).sum()),
            "num_results": len(pred),
            "num_after_nms": int(len(keep)),
            "results_file": str(results_file) if out_dir is not None else None,
        }
    )
    return metrics


def print_metrics(metrics: dict[str, Any], console: Console, *, title: str = "keypoint evaluation") -> None:
    """A rich table of the metrics, with a loud warning when the OKS sigmas were defaulted."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, v in metrics.items():
        if key == "results_file" or isinstance(v, bool):
            continue
        if v is None:
            text = "n/a"
        elif key == "EPE":
            text = f"{v:.2f} px"
        elif isinstance(v, float) and (key in FRACTION_KEYS or key.startswith("PCK")):
            text = f"{v:.4f}"
        else:
            text = str(v)
        table.add_row(key, text)
    console.print(table)
    if metrics.get("sigmas_defaulted"):
        console.print(
            "[bold red]WARNING: this dataset meta has no OKS sigmas; a default sigma was used for every "
            "keypoint. AP/AR are NOT comparable with published numbers. Add `sigmas:` to meta.yaml.[/]"
        )
    if metrics.get("pck_missing"):
        console.print(f"[yellow]warning:[/] {metrics['pck_missing']} ground-truth instances have no prediction; PCK/EPE leave them out.")
    if "PCK@0.05" not in metrics:
        console.print("[dim]PCK/AUC/EPE need results with 'ann_id' (evaluation on ground-truth boxes).[/]")


def evaluate_files(
    gt: str | Path,
    pred: str | Path,
    *,
    images: str | Path | None = None,
    meta: str | Path | None = None,
    out: str | Path | None = None,
    split: str = "val",
    console: Console | None = None,
) -> dict[str, Any]:
    """``pose eval``: load GT (file or dataset folder) and meta, score ``pred``, print, save.

    With ``out`` the metrics JSON is written atomically there and the scored results beside it
    (``keypoint_results.json``).
    """
    from pose.data.layout import load_dataset

    data, m = load_dataset(gt, split=split, images=images, meta=meta)
    out_path = Path(out) if out is not None else None
    metrics = evaluate_keypoints(data, pred, m, out_dir=None if out_path is None else out_path.parent)
    print_metrics(metrics, console or Console(), title=f"{Path(pred).name} on {Path(gt).name} (meta={m.name})")
    if out_path is not None:
        write_json(out_path, metrics, indent=2)
    return metrics
