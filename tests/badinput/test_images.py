"""Image files: broken ones are refused with one line naming the file; unusual but valid ones work.

EXIF orientation is ignored everywhere (pose/data/image.py): training crops, validation and
inference all see the stored pixel grid, which is what the annotations and the header size describe.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from badinput.support import assert_nothing_written, assert_user_error, run_cli, write_png

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _jpeg_bytes(w: int = 64, h: int = 48) -> bytes:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (0, 0, 255)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def _png_bytes(w: int = 64, h: int = 48) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), 77, np.uint8))
    assert ok
    return buf.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png() -> bytes:
    """A 100-byte PNG whose header declares 60000 x 60000 pixels (3.6 G): must be refused unread."""
    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")


BROKEN: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "zero-byte-jpeg": ("frame.jpg", lambda: b"", "not a readable image"),
    "zero-byte-png": ("frame.png", lambda: b"", "not a readable image"),
    "truncated-jpeg": ("frame.jpg", lambda: _jpeg_bytes()[:300], "truncated"),
    "truncated-png": ("frame.png", lambda: _png_bytes()[:60], "cannot be decoded"),
    "text-named-jpg": ("frame.jpg", lambda: b"this is not an image\n", "not a readable image"),
    "decompression-bomb-png": ("frame.png", _bomb_png, "more than 100000000 pixels"),
}


@pytest.mark.parametrize("name,make,says", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_image_refused_by_infer(name: str, make: Callable[[], bytes], says: str, ckpt: Path, tmp_path: Path) -> None:
    src = tmp_path / name
    src.write_bytes(make())
    out = tmp_path / "out" / "drawn.png"
    r = run_cli("infer", src, "--pose-model", ckpt, "--full-frame", "--out", out, "--device", "cpu")
    assert_user_error(r, file=src, says=says)
    assert_nothing_written(out)


def test_broken_images_are_validator_findings(tmp_path: Path) -> None:
    """Every broken file of the corpus is one ``image_unreadable`` finding naming its image entry."""
    root = tmp_path / "images"
    root.mkdir()
    images, anns = [], []
    for i, (case, (name, make, _)) in enumerate(BROKEN.items(), start=1):
        fn = f"{case}{Path(name).suffix}"
        (root / fn).write_bytes(make())
        images.append({"id": i, "file_name": fn, "width": 64, "height": 48})
        anns.append({"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 10, 10], "keypoints": [5, 5, 2]})
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "dot", "keypoints": ["dot"]}]}))
    report = tmp_path / "report.json"
    r = run_cli("data", "validate", ann, "--images", root, "--json", report)
    assert r.code == 1 and "Traceback" not in r.err + r.out
    found = {f["entry"] for f in json.loads(report.read_text())["findings"] if f["check"] == "image_unreadable"}
    assert found == {f"images[id={i}]" for i in range(1, len(BROKEN) + 1)}


# ------------------------------------------------------------------------ unusual but valid
def _cmyk(path: Path) -> None:
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(path, "JPEG")


def _gray16(path: Path) -> None:
    cv2.imwrite(str(path), np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16))


def _gray(path: Path) -> None:
    cv2.imwrite(str(path), np.full((30, 40), 200, np.uint8))


def _rgba(path: Path) -> None:
    cv2.imwrite(str(path), np.dstack([np.full((30, 40, 3), 90, np.uint8), np.full((30, 40), 128, np.uint8)]))


def _gray_alpha(path: Path) -> None:
    Image.new("LA", (40, 30), (120, 60)).save(path)


def _palette(path: Path) -> None:
    Image.new("P", (40, 30), 3).save(path)


VALID: dict[str, tuple[str, Callable[[Path], None]]] = {
    "cmyk-jpeg": ("cmyk.jpg", _cmyk),
    "16bit-png": ("gray16.png", _gray16),
    "grayscale-png": ("gray.png", _gray),
    "rgba-png": ("rgba.png", _rgba),
    "gray-alpha-png": ("la.png", _gray_alpha),
    "palette-png": ("palette.png", _palette),
}


@pytest.mark.parametrize("name,make", list(VALID.values()), ids=list(VALID))
def test_unusual_images_work(name: str, make: Callable[[Path], None], ckpt: Path, tmp_path: Path) -> None:
    src = tmp_path / name
    make(src)
    out, js = tmp_path / "drawn.png", tmp_path / "poses.json"
    r = run_cli("infer", src, "--pose-model", ckpt, "--full-frame", "--out", out, "--save-json", js, "--device", "cpu")
    assert r.code == 0 and "error" not in r.err, r.err
    drawn = cv2.imread(str(out))
    assert drawn is not None and drawn.shape == (30, 40, 3)
    res = json.loads(js.read_text())
    assert res["images"][0]["width"] == 40 and len(res["results"]) == 1


def _exif_rotated_jpeg(path: Path) -> None:
    """Stored 64 wide x 32 high, EXIF orientation 6 (viewers show it rotated, 32 x 64)."""
    img = Image.new("RGB", (64, 32), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 16, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, "JPEG", exif=exif.tobytes(), quality=95)


def test_exif_orientation_ignored_consistently_in_training_and_inference(synth_ds: Path, tmp_path: Path) -> None:
    from pose.data.coco import load_coco
    from pose.data.dataset import TopdownDataset
    from pose.data.image import read_image, read_image_size
    from pose.data.layout import load_dataset
    from pose.inference.video import open_source

    src = tmp_path / "images" / "rot.jpg"
    src.parent.mkdir()
    _exif_rotated_jpeg(src)
    assert cv2.imread(str(src)).shape[:2] == (64, 32), "OpenCV's default applies the EXIF rotation"
    assert read_image_size(src) == (64, 32)
    stored = read_image(src)
    assert stored.shape == (32, 64, 3) and stored[16, 4, 0] > 200 and stored[16, 60, 2] > 200  # blue strip stays on the left

    frame = next(iter(open_source(src)))
    assert np.array_equal(frame.image, stored)

    _, meta = load_dataset(synth_ds, split="val")
    ann = tmp_path / "ann.json"
    kp = [[0.0, 0.0, 0]] * meta.num_keypoints
    kp[0] = [8.0, 16.0, 2]
    ann.write_text(json.dumps({"images": [{"id": 1, "file_name": "rot.jpg", "width": 64, "height": 32}],
                               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 64, 32],
                                                "keypoints": [v for p in kp for v in p]}],
                               "categories": [{"id": 1, "name": "person", "keypoints": meta.keypoint_names}]}))
    data = load_coco(ann, image_root=src.parent, num_keypoints=meta.num_keypoints)
    ds = TopdownDataset(data, meta, input_size=(64, 32), train=False)
    crop = ds[0]["image"].numpy().transpose(1, 2, 0)
    assert crop.shape == (32, 64, 3)
    left, right = crop[16, 13], crop[16, 40]  # image x = 8 (blue) and 42 (red) after the 1.25 box padding
    assert left.max() > 0 and right.max() > 0 and left.argmax() != right.argmax()  # the stored, unrotated grid


def test_folder_with_non_utf8_file_name(ckpt: Path, tmp_path: Path) -> None:
    """A Latin-1 file name in a folder of frames is read, and written to the JSON as escaped text."""
    import os

    folder = tmp_path / "frames"
    write_png(folder / os.fsdecode(b"caf\xe9.png"), 40, 30)
    write_png(folder / "plain.png", 40, 30)
    js = tmp_path / "poses.json"
    r = run_cli("infer", folder, "--pose-model", ckpt, "--full-frame", "--save-json", js, "--device", "cpu")
    assert r.code == 0 and "Traceback" not in r.err, r.err
    names = [im["name"] for im in json.loads(js.read_text())["images"]]
    assert sorted(names) == sorted([os.fsdecode(b"caf\xe9.png"), "plain.png"])
