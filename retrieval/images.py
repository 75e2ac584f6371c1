"""Reading image files safely: listing a folder, decoding, and resizing to model input.

Every failure to read one image becomes an `UnreadableImage` with a short reason, so that a
batch can skip the file and report it instead of dying.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
# Pillow's own guard: larger images raise instead of exhausting memory (about 16k x 16k).
MAX_PIXELS = 256 * 1024 * 1024 // 4


class UnreadableImage(Exception):
    """One image that cannot be decoded; the message is the reason."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    sha256: str


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def list_images(root: str | Path) -> list[Path]:
    """All image files below `root` (recursive, sorted, symlinked folders not followed)."""
    root = Path(root)
    if root.is_file():
        return [root] if is_image_path(root) else []
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            path = Path(dirpath) / name
            if not name.startswith(".") and is_image_path(path):
                found.append(path)
    return sorted(found)


def _to_array(img: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to 'L' or 'RGB', compositing transparency on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.uint32)
        peak = 65535 if arr.max(initial=0) > 255 else 255
        img = Image.fromarray((arr * 255 // peak).astype(np.uint8), mode="L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return img.convert("L" if channels == 1 else "RGB")


def load_image(path: str | Path, size: int, channels: int) -> tuple[np.ndarray, ImageInfo]:
    """Decode `path` to a uint8 array of shape (channels, size, size) plus its metadata.

    EXIF orientation is applied, the first frame of an animation is used, and images larger
    than `MAX_PIXELS` are refused (decompression-bomb guard).
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block or never end
            raise UnreadableImage("not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImage(f"cannot read file ({exc.strerror or exc})") from None
    if not data:
        raise UnreadableImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            img = Image.open(io.BytesIO(data))
            width, height, mode = img.width, img.height, img.mode
            if width * height > MAX_PIXELS:
                raise UnreadableImage(f"image too large to decode safely ({width}x{height})")
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            img = _to_array(img, channels)
            img = img.resize((size, size), Image.Resampling.BILINEAR)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage("image too large to decode safely") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can identify") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableImage(f"corrupt or truncated image ({exc})") from None
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if channels == 1 else arr.transpose(2, 0, 1)
    info = ImageInfo(width, height, mode, hashlib.sha256(data).hexdigest())
    return np.ascontiguousarray(arr), info


def sniff_channels(paths: list[Path], sample: int = 64) -> int:
    """1 if every sampled readable image is grayscale, else 3."""
    step = max(1, len(paths) // sample)
    for path in paths[::step][:sample]:
        try:
            with Image.open(path) as img:
                if img.mode not in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L"):
                    return 3
        except (OSError, ValueError, Image.DecompressionBombError):
            continue
    return 1
