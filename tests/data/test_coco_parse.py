"""The shared COCO parse path: typed columns with masks, and the helpers the three judges use."""

from __future__ import annotations

import numpy as np

from pose.data.coco_parse import CocoTables, Section, boxes, first_failure, floats, ints, is_int, is_num, keypoint_rows, most_common_duplicate, top_level_problem


def test_one_rule_for_integers_and_numbers() -> None:
    assert is_int(3) and is_int(-(2**63)) and not is_int(2**63)
    assert not is_int(True) and not is_int(1.0) and not is_int("1")
    assert is_num(1.5) and is_num(2) and is_num(float("nan"))
    assert not is_num(True) and not is_num("1.5") and not is_num(None)


def test_columns_mask_what_is_not_of_their_type() -> None:
    c = ints([1, "2", None, 2**70, True, 5])
    assert c.ok.tolist() == [True, False, False, False, False, True]
    assert c.values[c.ok].tolist() == [1, 5]
    assert c.present.tolist() == [True, True, False, True, True, True]
    f = floats([1, 2.5, "3", None])
    assert f.ok.tolist() == [True, True, False, False] and np.isnan(f.values[2:]).all()
    b = boxes([[1, 2, 3, 4], [1, 2, 3], [1, 2, True, 4], None, [0, 0, float("inf"), 1]])
    assert b.ok.tolist() == [True, False, False, False, True]
    assert b.present.tolist() == [True, True, True, False, True]


def test_keypoint_rows_say_why_a_row_was_not_read() -> None:
    kp, problems = keypoint_rows([[1, 2, 2, 3, 4, 1], None, "x", [1, 2, 2], [1, "a", 2, 3, 4, 1]], 2)
    assert kp.shape == (5, 2, 3) and kp[0].tolist() == [[1, 2, 2], [3, 4, 1]]
    assert [p.kind if p else None for p in problems] == [None, "missing", "type", "length", "number"]
    assert problems[2].got == "str" and problems[4].got == "a"
    assert np.isnan(kp[1:]).all()


def test_first_failure_is_the_first_row_then_the_first_check() -> None:
    checks = [np.array([False, False, True]), np.array([False, True, True])]
    assert first_failure(checks) == (1, 1)
    assert first_failure([np.zeros(3, bool)]) is None


def test_sections_keep_positions_of_non_objects() -> None:
    rows = Section.of("images", [{"id": 1}, 7, {"id": "x"}])
    assert rows.pos.tolist() == [0, 2] and rows.others().tolist() == [1]
    ids = ints(rows.get("id"))
    assert rows.entries(ids).tolist() == ["images[id=1]", "images[2]"]
    assert rows.first_failing([~ids.ok]) == (1, 0, None)  # the non-object at position 1 comes first
    assert Section.of("images", [{"id": 1}, {"id": "x"}]).first_failing([np.array([False, True])]) == (1, 1, 1)


def test_tables_and_top_level() -> None:
    assert top_level_problem([]) == ("type", "list")
    assert top_level_problem({"images": []}) == ("missing", "annotations")
    assert top_level_problem({"images": [], "annotations": {}, "categories": []}) == ("not_list", "annotations")
    d = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 3}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": False}],
         "categories": [{"id": 1, "keypoints": ["a"]}]}
    assert top_level_problem(d) is None
    t = CocoTables.read(d)
    assert t.images.file_name == ["a.png"] and t.annotations.iscrowd.values.tolist() == [0] and t.annotations.iscrowd.ok.all()
    assert not t.annotations.bbox.present.any() and t.categories.names == [["a"]]
    assert most_common_duplicate(np.array([3, 1, 3, 1, 3])) == 3 and most_common_duplicate(np.array([1, 2])) is None
