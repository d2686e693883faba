"""Line charts as PNG drawn with OpenCV (no matplotlib; nothing loaded from a CDN).

``dvc plots show`` embeds these images as they are, so the report works offline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from pose.fileio import write_bytes

#: BGR colours of successive series.
COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140)]
W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    return np.linspace(lo, hi, n)


def _range(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not np.isfinite(lo) or not np.isfinite(hi):
        return 0.0, 1.0
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 1e-3)
    return lo - pad, hi + pad


def line_chart(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str, xlabel: str, ylabel: str,
               ylim: tuple[float, float] | None = None) -> np.ndarray:
    """A BGR image of ``name -> (x, y)`` series on shared axes, with ticks and a legend."""
    img = np.full((H, W, 3), 255, np.uint8)
    pts = {k: (np.asarray(x, np.float64), np.asarray(y, np.float64)) for k, (x, y) in series.items() if len(x)}
    xs = np.concatenate([x for x, _ in pts.values()]) if pts else np.zeros(1)
    ys = np.concatenate([y for _, y in pts.values()]) if pts else np.zeros(1)
    x0, x1 = _range(xs)
    y0, y1 = ylim or _range(ys)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def to_px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = LEFT + (x - x0) / (x1 - x0) * pw
        v = TOP + (1 - (y - y0) / (y1 - y0)) * ph
        return np.stack([u, v], -1).round().astype(np.int32)

    cv2.rectangle(img, (LEFT, TOP), (LEFT + pw, TOP + ph), (0, 0, 0), 1)
    for t in _ticks(x0, x1):
        u = int(round(LEFT + (t - x0) / (x1 - x0) * pw))
        cv2.line(img, (u, TOP + ph), (u, TOP + ph + 4), (0, 0, 0), 1)
        cv2.putText(img, f"{t:.3g}", (u - 15, TOP + ph + 18), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for t in _ticks(y0, y1):
        v = int(round(TOP + (1 - (t - y0) / (y1 - y0)) * ph))
        cv2.line(img, (LEFT - 4, v), (LEFT + pw, v), (225, 225, 225), 1)
        cv2.putText(img, f"{t:.3g}", (5, v + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, (x, y)) in enumerate(pts.items()):
        colour = COLOURS[i % len(COLOURS)]
        ok = np.isfinite(y)
        p = to_px(x[ok], y[ok])
        if len(p) > 1:
            cv2.polylines(img, [p.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        if len(p) <= 40:
            for u, v in p:
                cv2.circle(img, (int(u), int(v)), 3, colour, -1, cv2.LINE_AA)
        cv2.line(img, (LEFT + pw - 150, TOP + 15 + 18 * i), (LEFT + pw - 125, TOP + 15 + 18 * i), colour, 2)
        cv2.putText(img, name[:18], (LEFT + pw - 120, TOP + 19 + 18 * i), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (LEFT, 25), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, (LEFT + pw // 2 - 4 * len(xlabel), H - 10), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (5, TOP - 8), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def save_png(path: str | Path, image: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    write_bytes(path, buf.tobytes())
    return Path(path)


def history_series(history: Sequence[Mapping[str, float]], keys: Sequence[str]) -> dict[str, tuple[list[float], list[float]]]:
    """``key -> (epochs, values)`` for the keys present in a trainer history."""
    out = {}
    for k in keys:
        rows = [(h["epoch"], h[k]) for h in history if k in h and h.get("epoch") is not None]
        if rows:
            out[k] = ([float(e) for e, _ in rows], [float(v) for _, v in rows])
    return out
