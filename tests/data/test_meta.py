from pathlib import Path

import numpy as np
import pytest
import yaml

from pose.data.meta import DEFAULT_SIGMA, PRESETS, DatasetMeta, SigmaDefaultWarning, derive_swap, load_meta, meta_from_coco_category
from pose.errors import DataError


@pytest.mark.parametrize("name,k", [("coco", 17), ("ap10k", 17), ("animalpose", 20), ("mpii", 16)])
def test_presets_load_with_published_counts(name: str, k: int) -> None:
    m = load_meta(name)
    assert m.num_keypoints == k
    assert m.sigmas is not None and m.sigmas.shape == (k,)
    assert m.joint_weights.shape == (k,)
    fi = m.flip_indices
    assert np.array_equal(fi[fi], np.arange(k)), "flip map must be an involution"


def test_coco_preset_matches_mmpose_facts(shared_data: Path) -> None:
    import runpy

    for name in PRESETS:
        ref = runpy.run_path(str(shared_data / "mmpose_dataset_meta" / f"{name}.py"))["dataset_info"]
        m = load_meta(name)
        names = [ref["keypoint_info"][i]["name"] for i in sorted(ref["keypoint_info"])]
        assert m.keypoint_names == names
        np.testing.assert_allclose(m.sigmas, ref["sigmas"], rtol=1e-6)
        np.testing.assert_allclose(m.joint_weights, ref["joint_weights"], rtol=1e-6)
        swaps = [ref["keypoint_info"][i]["swap"] for i in sorted(ref["keypoint_info"])]
        assert m.swap == swaps


def test_flip_pairs_from_manifest(shared_data: Path) -> None:
    import json

    manifest = {d["name"]: d for d in json.loads((shared_data / "MANIFEST.json").read_text())}
    ref = manifest["coco_person_minicoco"]["flip_pairs_0based"]
    assert load_meta("coco").flip_pairs.tolist() == ref


def test_yaml_round_trip(tmp_path: Path) -> None:
    m = load_meta("ap10k")
    m.save(tmp_path / "meta.yaml")
    m2 = load_meta(tmp_path / "meta.yaml")
    assert m2.keypoint_names == m.keypoint_names
    assert m2.swap == m.swap
    np.testing.assert_array_equal(m2.skeleton, m.skeleton)
    np.testing.assert_allclose(m2.sigmas, m.sigmas)


def _write(tmp_path: Path, d: dict) -> Path:
    p = tmp_path / "meta.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def test_non_mutual_swap_is_rejected_naming_the_entry(tmp_path: Path) -> None:
    p = _write(tmp_path, {"name": "x", "keypoints": [
        {"name": "a", "swap": "b"}, {"name": "b", "swap": "c"}, {"name": "c", "swap": "b"}]})
    with pytest.raises(DataError, match=r"keypoints\[0\] a: swap partners are not mutual"):
        load_meta(p)


@pytest.mark.parametrize("key,values,msg", [
    ("sigmas", [0.1, 0.1], "2 sigmas for 3 keypoints"),
    ("joint_weights", [1, 1, 1, 1], "4 joint_weights for 3 keypoints"),
    ("sigmas", [0.1, -0.1, 0.1], "finite and positive"),
])
def test_count_and_value_mismatches_rejected(tmp_path: Path, key: str, values: list, msg: str) -> None:
    p = _write(tmp_path, {"name": "x", "keypoints": ["a", "b", "c"], key: values})
    with pytest.raises(DataError, match=msg):
        load_meta(p)


def test_skeleton_with_unknown_keypoint_rejected(tmp_path: Path) -> None:
    p = _write(tmp_path, {"name": "x", "keypoints": ["a", "b"], "skeleton": [["a", "zz"]]})
    with pytest.raises(DataError, match=r"skeleton\[0\]: unknown keypoint 'zz'"):
        load_meta(p)


def test_unknown_key_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown key"):
        load_meta(_write(tmp_path, {"name": "x", "keypoints": ["a"], "sigma": [1]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        load_meta(bad)
    with pytest.raises(DataError, match="no such meta file or preset"):
        load_meta("nonexistent-preset")


@pytest.mark.parametrize("names,expected", [
    (["nose", "left_eye", "right_eye"], ["", "right_eye", "left_eye"]),
    (["l_knee", "r_knee", "tail"], ["r_knee", "l_knee", ""]),
    (["LeftEar", "RightEar"], ["RightEar", "LeftEar"]),
    (["snout", "leftear", "rightear", "tailbase"], ["", "rightear", "leftear", ""]),
    (["hip_L", "hip_R", "head"], ["hip_R", "hip_L", ""]),
    (["left_eye", "right_foot"], ["", ""]),
])
def test_derive_swap_from_names(names: list[str], expected: list[str]) -> None:
    assert derive_swap(names) == expected


def test_meta_from_coco_category_and_sigma_default() -> None:
    cat = {"id": 1, "name": "mouse", "keypoints": ["nose", "left_ear", "right_ear", "tail"], "skeleton": [[1, 2], [1, 3], [1, 4]]}
    m = meta_from_coco_category(cat)
    assert m.name == "mouse"
    assert m.flip_pairs.tolist() == [[1, 2]]
    assert m.skeleton.tolist() == [[0, 1], [0, 2], [0, 3]]
    assert m.keypoint_types[3] == "lower"
    assert m.sigmas is None
    with pytest.warns(SigmaDefaultWarning, match="no OKS sigmas"):
        s, defaulted = m.sigmas_or_default()
    assert defaulted and np.allclose(s, DEFAULT_SIGMA)
    with pytest.raises(DataError, match="1..4"):
        meta_from_coco_category({**cat, "skeleton": [[0, 1]]})
    with pytest.raises(DataError, match="no keypoint names"):
        meta_from_coco_category({"id": 3, "keypoints": []})


def test_direct_construction_validates() -> None:
    with pytest.raises(DataError, match="duplicate keypoint name"):
        DatasetMeta.from_dict({"name": "x", "keypoints": ["a", "a"]})
