"""Shared codec ops: the blur matches MMPose's OpenCV recipe, flips and config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.codecs import ops
from pose.codecs.msra import MSRAHeatmap
from pose.errors import ConfigError

from codec_cases import mmpose_blur


@pytest.mark.parametrize(("kernel", "half"), [(11, 2), (17, 1)])
def test_blurred_window_matches_opencv_recipe(kernel: int, half: int) -> None:
    ys, xs = np.mgrid[0:64, 0:48].astype(np.float32)
    centres = [(3.2, 60.5), (24.0, 30.3), (46.7, 1.1)]  # near the borders, too
    maps = np.stack([np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 8) for cx, cy in centres])
    maps += np.random.default_rng(0).normal(0, 0.01, maps.shape).astype(np.float32)
    t = torch.from_numpy(maps)[None]
    x, y, peak = ops.heatmap_argmax(t)
    win = ops.blurred_window(t, x, y, peak, kernel, half)[0].numpy()
    ref = mmpose_blur(maps, kernel)
    for k in range(3):
        for oy in range(-half, half + 1):
            for ox in range(-half, half + 1):
                px, py = int(x[0, k]) + ox, int(y[0, k]) + oy
                if 0 <= px < 48 and 0 <= py < 64:
                    assert win[k, oy + half, ox + half] == pytest.approx(ref[k, py, px], rel=1e-4, abs=1e-6)


def test_window_at_clamps_to_the_map_edge() -> None:
    win = torch.arange(25.0).reshape(1, 1, 5, 5)
    x, y = torch.tensor([[0]]), torch.tensor([[3]])
    assert ops.window_at(win, x, y, -1, 1, (4, 4)).item() == win[0, 0, 2, 2].item()
    assert ops.window_at(win, x, y, 1, -2, (4, 4)).item() == win[0, 0, 0, 3].item()


def test_blurred_window_of_zero_maps_is_finite() -> None:
    maps = torch.zeros(1, 2, 8, 8)
    x, y, peak = ops.heatmap_argmax(maps)
    out = ops.blurred_window(maps, x, y, peak, 5)
    assert out.shape == (1, 2, 5, 5) and (out == 0).all()


def test_blur_kernel_size_follows_opencv_sigma() -> None:
    assert [ops.blur_kernel_size(s) for s in (1.5, 2.0, 3.0)] == [7, 11, 17]


def test_flip_index_mirrors_and_shifts_with_edge_fill() -> None:
    assert ops.flip_index(5).tolist() == [4, 3, 2, 1, 0]
    assert ops.flip_index(5, shift=1).tolist() == [4, 4, 3, 2, 1]
    assert ops.flip_index(5, shift=-1).tolist() == [3, 2, 1, 0, 0]


def test_flip_last_same_for_numpy_and_torch() -> None:
    x = np.random.default_rng(1).random((2, 3, 4, 6), dtype=np.float32)
    idx = [0, 2, 1]
    np.testing.assert_array_equal(ops.flip_last(torch.from_numpy(x), idx, 1).numpy(), ops.flip_last(x, idx, 1))


def test_gather_clamps_to_edges() -> None:
    maps = torch.arange(12.0).reshape(1, 1, 3, 4)
    x = torch.tensor([[-1]])
    y = torch.tensor([[5]])
    assert ops.gather(maps, x, y).item() == maps[0, 0, 2, 0].item()


@pytest.mark.parametrize(
    ("kw", "entry"),
    [
        ({"input_size": (192,)}, "codec.input_size"),
        ({"heatmap_size": (48.5, 64)}, "codec.heatmap_size"),
        ({"sigma": 0}, "codec.sigma"),
        ({"blur_kernel_size": 10}, "codec.blur_kernel_size"),
    ],
)
def test_bad_config_names_the_entry(kw: dict, entry: str) -> None:
    with pytest.raises(ConfigError, match=entry):
        MSRAHeatmap(**kw)


def test_sizes_from_yaml_lists_become_tuples() -> None:
    codec = MSRAHeatmap(input_size=[192, 256], heatmap_size=[48, 64])
    assert codec.input_size == (192, 256) and codec.heatmap_size == (48, 64)


def test_bad_flip_indices_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="flip_indices"):
        ops.flip_last(np.zeros((1, 3, 2, 2), np.float32), [0, 1])


def test_check_instances_rejects_shapes_and_masks_nans() -> None:
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        ops.check_instances(np.zeros((3, 2)), np.zeros(3))
    kp = np.array([[[np.nan, 1.0], [2.0, 3.0]]], np.float32)
    clean, valid = ops.check_instances(kp, np.array([[2, 2]], np.uint8))
    assert valid.tolist() == [[False, True]] and np.isfinite(clean).all()
