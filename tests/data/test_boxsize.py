"""model.input_size: auto -- the crop size from the dataset's median labelled box."""

from pathlib import Path

import numpy as np
import pytest

from pose.data.boxsize import LONG_SIDE, MAX_ASPECT, auto_input_size, auto_size, typical_box
from pose.data.layout import load_dataset
from pose.errors import DataError


@pytest.mark.parametrize(("box", "size"), [
    ((140, 170), (128, 160)),   # the README's example: aspect kept, multiples of 32
    ((170, 140), (160, 128)),   # landscape box -> landscape input
    ((20, 30), (32, 64)),       # tiny boxes: the long side is at least 64, the short one scaled with it
    ((900, 400), (256, 128)),   # a 5 MP frame's box: the long side stops at 256, aspect kept
    ((1000, 10), (256, 128)),   # a sliver: at most 2:1 (animals turn)
    ((133, 35), (128, 64)),     # the first 60 openfield mice: 2:1, not 4:1
])
def test_auto_input_size(box: tuple[float, float], size: tuple[int, int]) -> None:
    got = auto_input_size(*box)
    assert got == size
    assert all(v % 32 == 0 for v in got) and LONG_SIDE[0] <= max(got) <= LONG_SIDE[1] and max(got) <= MAX_ASPECT * min(got)


def test_auto_size_on_a_real_project(shared_data: Path) -> None:
    data, _ = load_dataset(shared_data / "dlc_openfield/coco/annotations.json",
                           images=shared_data / "dlc_openfield", meta=None)
    chosen = auto_size(data)
    w, h, n = typical_box(data)
    assert n == 116 and chosen.boxes == 116
    keep = data.num_labelled > 0
    assert w == pytest.approx(float(np.median(data.bboxes[keep, 2] - data.bboxes[keep, 0])))
    assert chosen.input_size == auto_input_size(w, h)
    assert chosen.describe().startswith(f"input size {chosen.input_size[0]}x{chosen.input_size[1]} from median box")


def test_no_labelled_boxes_is_a_data_error(shared_data: Path) -> None:
    data, _ = load_dataset(shared_data / "dlc_openfield/coco/annotations.json", images=shared_data / "dlc_openfield", meta=None)
    data.visibility[:] = 0
    with pytest.raises(DataError, match="no labelled boxes"):
        typical_box(data)
