"""Image files: header-only size reads and decoding to 8-bit BGR, with one-line errors.

EXIF orientation is ignored everywhere (training, validation, inference): annotations refer to
the stored pixel grid, which is also what the file header's width/height describe. Grayscale,
alpha, 16-bit and CMYK images are converted to 8-bit BGR. Images whose header declares more
than ``MAX_PIXELS`` are refused before decoding (decompression bombs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pose.errors import DataError

MAX_PIXELS = 100_000_000

cv2.setNumThreads(1)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def read_image_size(path: str | Path, *, entry: str | None = None) -> tuple[int, int]:
    """(width, height) from the file header, without decoding pixels."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except FileNotFoundError:
        raise DataError("image file not found", file=path, entry=entry) from None
    except Image.DecompressionBombError:
        raise DataError(f"image declares more than {MAX_PIXELS} pixels", file=path, entry=entry) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"not a readable image ({' '.join(str(e).split())[:120]})", file=path, entry=entry) from None
    if w <= 0 or h <= 0:
        raise DataError(f"image has size {w}x{h}", file=path, entry=entry)
    return int(w), int(h)


def read_image(path: str | Path, *, entry: str | None = None) -> np.ndarray:
    """Decode to an (H, W, 3) uint8 BGR array; refuses bombs and truncated files clearly."""
    path = Path(path)
    w, h = read_image_size(path, entry=entry)
    if w * h > MAX_PIXELS:
        raise DataError(f"image declares {w}x{h} pixels (more than {MAX_PIXELS}): refused before decoding", file=path, entry=entry)
    buf = np.fromfile(path, dtype=np.uint8)
    if buf[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in buf[-64:].tobytes():
        raise DataError("JPEG is truncated (no end-of-image marker)", file=path, entry=entry)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise DataError("image cannot be decoded (corrupt or truncated?)", file=path, entry=entry)
    if img.dtype != np.uint8:
        img = (img / 257.0).round().astype(np.uint8) if img.dtype == np.uint16 else cv2.convertScaleAbs(img)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] == 1:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[:2] != (h, w):
        raise DataError(f"decoded size {img.shape[1]}x{img.shape[0]} differs from header {w}x{h}", file=path, entry=entry)
    return img
