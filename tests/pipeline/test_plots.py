from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pose.pipeline.plots import COLOURS, H, W, history_series, line_chart, save_png


def test_line_chart_draws_each_series_in_its_colour(tmp_path: Path) -> None:
    img = line_chart({"a": ([0, 1, 2], [0.1, 0.5, 0.9]), "b": ([0, 1, 2], [0.9, 0.5, np.nan])}, title="t", xlabel="x", ylabel="y")
    assert img.shape == (H, W, 3)
    for colour in COLOURS[:2]:
        assert (np.abs(img.astype(int) - np.array(colour)).sum(-1) < 10).sum() > 50
    out = save_png(tmp_path / "c.png", img)
    assert cv2.imread(str(out)).shape == (H, W, 3)


def test_line_chart_empty_series_is_blank_axes() -> None:
    img = line_chart({}, title="nothing", xlabel="x", ylabel="y")
    assert not (np.abs(img.astype(int) - np.array(COLOURS[0])).sum(-1) < 10).any()


def test_history_series_picks_present_keys() -> None:
    h = [{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0, "AP": 0.4}]
    assert history_series(h, ["loss", "AP", "AUC"]) == {"loss": ([1.0, 2.0], [3.0, 2.0]), "AP": ([2.0], [0.4])}
