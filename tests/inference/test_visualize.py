"""inference.visualize: thresholds hide keypoints, meta colours, boxes, heatmap overlay, GT vs prediction panel."""

from __future__ import annotations

import numpy as np
import pytest

from pose.data.meta import load_meta
from pose.inference.api import FrameResult
from pose.inference.visualize import compare_panel, draw_result, heatmap_canvas, overlay_heatmap, score_visibility

META = load_meta("coco")
K = META.num_keypoints


def frame(scores: np.ndarray, *, size: tuple[int, int] = (200, 160), heatmaps: np.ndarray | None = None,
          matrices: np.ndarray | None = None) -> FrameResult:
    """One instance with keypoints on a 40 px grid (far apart) and the given (K,) scores."""
    grid = np.stack([20 + 40 * (np.arange(K) % 4), 20 + 30 * (np.arange(K) // 4)], axis=1).astype(np.float32)
    return FrameResult(size, np.array([[5, 5, 190, 150]], np.float32), np.ones(1, np.float32), grid[None],
                       np.asarray(scores, np.float32)[None], heatmaps, matrices)


def test_score_visibility() -> None:
    np.testing.assert_array_equal(score_visibility(np.array([[0.1, 0.3, 0.31, 0.9]]), 0.3), [[0, 0, 2, 2]])


def test_keypoints_under_threshold_are_hidden_and_use_meta_colours() -> None:
    scores = np.full(K, 0.1)
    scores[5] = 0.9
    res = frame(scores)
    black = np.zeros((160, 200, 3), np.uint8)
    out = draw_result(black, res, META, kpt_thr=0.3, draw_bbox=False)
    x, y = res.keypoints[0, 5].astype(int)
    rgb = META.keypoint_colors[5]
    np.testing.assert_array_equal(out[y, x], rgb[::-1])
    drawn = np.argwhere(out.any(axis=2))
    assert np.abs(drawn - [y, x]).max() <= 4, "only keypoint 5 may be drawn"
    everything = draw_result(black, res, META, kpt_thr=0.0, draw_bbox=False)
    assert everything.any(axis=2).sum() > 5 * out.any(axis=2).sum()
    assert not black.any(), "drawing must not modify its input"


def test_box_and_indices() -> None:
    res = frame(np.ones(K))
    black = np.zeros((160, 200, 3), np.uint8)
    plain = draw_result(black, res, META, draw_bbox=False)
    boxed = draw_result(black, res, META, draw_bbox=True)
    assert not plain[80, 5].any() and boxed[80, 5].any(), "the box's left edge at x=5"
    indexed = draw_result(black, res, META, draw_bbox=False, show_kpt_idx=True)
    assert indexed.any(axis=2).sum() > plain.any(axis=2).sum()
    thick = draw_result(black, res, META, draw_bbox=False, radius=6, thickness=4)
    assert thick.any(axis=2).sum() > plain.any(axis=2).sum()


def test_heatmap_overlay_puts_the_peak_where_the_matrix_says() -> None:
    maps = np.zeros((1, K, 20, 25), np.float32)
    maps[0, 3, 5, 10] = 1.0  # map pixel (u=10, v=5)
    to_map = np.array([[[0.5, 0, 0], [0, 0.5, 0]]])  # image pixel (20, 10) -> map pixel (10, 5)
    res = frame(np.ones(K), heatmaps=maps, matrices=to_map)
    heat = heatmap_canvas(res)
    assert heat.shape == (160, 200)
    assert np.unravel_index(heat.argmax(), heat.shape) == (10, 20) and heat.max() == pytest.approx(1.0)
    image = np.full((160, 200, 3), 90, np.uint8)
    blended = overlay_heatmap(image, heat)
    assert (blended[10, 20] != 90).any() and (blended[120, 150] == 90).all()
    drawn = draw_result(image, res, META, draw_heatmap=True, draw_bbox=False, kpt_thr=1.0)
    np.testing.assert_array_equal(drawn, blended)
    with pytest.raises(ValueError, match="no heatmaps"):
        heatmap_canvas(frame(np.ones(K)))


def test_compare_panel_puts_gt_left_and_prediction_right() -> None:
    image = np.zeros((160, 200, 3), np.uint8)
    res = frame(np.ones(K))
    gt = res.keypoints + 7
    panel = compare_panel(image, gt, np.full((1, K), 2), res, META)
    assert panel.shape == (160, 400, 3)
    left, right = panel[20:, :200], panel[20:, 200:]
    assert left.any() and right.any() and not np.array_equal(left, right)
    only_pred = draw_result(image, res, META, draw_bbox=False)
    np.testing.assert_array_equal(right, only_pred[20:])


def test_empty_frame_draws_nothing() -> None:
    empty = FrameResult((50, 40), np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, K, 2), np.float32),
                        np.zeros((0, K), np.float32))
    image = np.full((40, 50, 3), 7, np.uint8)
    np.testing.assert_array_equal(draw_result(image, empty, META, draw_bbox=True), image)


def test_track_ids_are_written_at_the_box() -> None:
    res = frame(np.zeros(K))  # no keypoint drawn
    black = np.zeros((160, 200, 3), np.uint8)
    assert not draw_result(black, res, META, draw_bbox=False).any()
    res.track_ids = np.array([7])
    tagged = draw_result(black, res, META, draw_bbox=False)
    ys, xs = np.nonzero(tagged.any(axis=2))
    assert len(ys) > 10 and xs.min() >= 5 and ys.min() >= 5 and xs.max() < 40 and ys.max() < 30  # "#7" at (5, 5)
    assert not black.any()
