"""Fixtures shared by the converter tests: comparison of a converted dataset with a reference COCO file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pose.data.coco import CocoData


def _match_reference(out: CocoData, ref: CocoData) -> int:
    """Assert per image (matched by file name) equal instance count, visibility and coordinates."""
    by_name = {Path(f).name: r for r, f in enumerate(ref.file_names)}
    assert sorted(Path(f).name for f in out.file_names) == sorted(by_name)
    out_rows, ref_rows = out.ann_rows_by_image(), ref.ann_rows_by_image()
    for r, f in enumerate(out.file_names):
        rr = by_name[Path(f).name]
        a, b = out_rows[int(out.image_ids[r])], ref_rows[int(ref.image_ids[rr])]
        assert len(a) == len(b), f
        assert (out.widths[r], out.heights[r]) == (ref.widths[rr], ref.heights[rr])
        np.testing.assert_array_equal(out.visibility[a], ref.visibility[b], err_msg=f)
        np.testing.assert_allclose(out.keypoints[a], ref.keypoints[b], atol=1e-3, err_msg=f)
        np.testing.assert_allclose(out.bboxes[a], ref.bboxes[b], atol=0.02, err_msg=f)  # reference boxes are rounded to 0.01
    return len(out)


@pytest.fixture
def match_reference() -> Callable[[CocoData, CocoData], int]:
    return _match_reference
