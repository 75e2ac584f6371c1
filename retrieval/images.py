"""Reading image files safely: listing a folder, decoding, and resizing to model input;
showing them (thumbnails) and taking images given in memory (queries).

Every failure to read one image becomes an `UnreadableImage` with a short reason, so that a
batch can skip the file and report it instead of dying.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.walk import Listing, ListingRules, walk

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
# Listed always; read when their decoder is there, else skipped with the reason below.
HEIF_EXTENSIONS = {".heic", ".heif", ".hif"}
AVIF_EXTENSIONS = {".avif"}
HEIF_EXTRA = "pip install 'semantic-hashing[heif]'"
# Pillow's own guard: larger images raise instead of exhausting memory (about 16k x 16k).
MAX_PIXELS = 256 * 1024 * 1024 // 4
# Resize from at least this many times the target size by box-averaging first (Pillow's
# `reducing_gap`): as sharp as a full resample at this scale, many times faster.
REDUCING_GAP = 3.0
ORIENTATION = 0x0112
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}  # fmt: skip


class UnreadableImage(Exception):
    """One image that cannot be decoded; the message is the reason."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    sha256: str


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS | HEIF_EXTENSIONS | AVIF_EXTENSIONS


def list_image_files(root: str | Path, rules: ListingRules | None = None) -> Listing:
    """Image files below `root` by the listing rules (see `retrieval.walk`)."""
    return walk(root, is_image_path, rules)


def list_images(root: str | Path, rules: ListingRules | None = None) -> list[Path]:
    """All image files below `root` (recursive, sorted; hidden and junk folders skipped,
    symlinked folders not followed unless `rules` say so)."""
    return list_image_files(root, rules).paths


@functools.cache
def heif_support() -> str:
    """'' when HEIC/HEIF files can be decoded (pillow-heif registered), else the reason."""
    try:
        import pillow_heif
    except ImportError:
        return f"HEIC/HEIF needs the optional pillow-heif package ({HEIF_EXTRA})"
    pillow_heif.register_heif_opener()
    return ""


@functools.cache
def avif_support() -> str:
    """'' when AVIF files can be decoded (Pillow's own plugin, else pillow-heif's)."""
    if features.check("avif"):
        return ""
    try:
        import pillow_heif

        pillow_heif.register_avif_opener()
        return ""
    except (ImportError, AttributeError):
        return f"AVIF needs Pillow built with AVIF, or pillow-heif with AVIF ({HEIF_EXTRA})"


def _format_support(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in HEIF_EXTENSIONS:
        return heif_support()
    if suffix in AVIF_EXTENSIONS:
        return avif_support()
    return ""


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

    The one reader of image files, for indexing and for queries alike, so that one file
    always gets one code. JPEGs are decoded at the smallest scale that still covers the
    model input (libjpeg's scaled IDCT), other formats box-reduced before the resample;
    EXIF orientation is applied, the first frame of an animation is used, and images
    larger than `MAX_PIXELS` are refused (decompression-bomb guard).
    """
    path = Path(path)
    if reason := _format_support(path):
        raise UnreadableImage(reason)
    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            img = Image.open(io.BytesIO(data))
            width, height, mode = img.width, img.height, img.mode
            if width * height > MAX_PIXELS:
                raise UnreadableImage(f"image too large to decode safely ({width}x{height})")
            img = _decode_small(img, size, channels)
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


def _read_bytes(path: Path) -> bytes:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block or never end
            raise UnreadableImage("not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImage(f"cannot read file ({exc.strerror or exc})") from None
    if not data:
        raise UnreadableImage("empty file")
    return data


def _decode_small(img: Image.Image, size: int, channels: int) -> Image.Image:
    """The first frame as a `size` x `size` 'L' or 'RGB' image, upright. The orientation
    is applied after the resize: on a square output that is the same picture, and it
    turns 1,000 pixels instead of millions."""
    img.seek(0)
    orientation = img.getexif().get(ORIENTATION, 1)
    if img.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale where that covers `size`
        img.draft("L" if channels == 1 else "RGB", (size, size))
    img = _to_array(img, channels)
    img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    if (method := TRANSPOSE.get(orientation)) is not None:
        img = img.transpose(method)
    return img


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


# -- showing and uploads ---------------------------------------------------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024  # a bigger file is shown from its stored input


def thumbnail(path: str | Path, size: int) -> Image.Image | None:
    """The image at `path` shrunk to fit `size` x `size` (decoded under the same pixel limit
    as indexing), or None when it cannot be read."""
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                return None
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
            img = ImageOps.exif_transpose(img)
            img = _displayable(img)
            img.thumbnail((size, size), Image.Resampling.LANCZOS)
            return img
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        return None


def _displayable(img: Image.Image) -> Image.Image:
    """Any Pillow mode as L or RGB; transparency composited on white."""
    if img.mode.startswith("I"):
        arr = np.asarray(img, dtype=np.uint32)
        peak = 65535 if arr.max(initial=0) > 255 else 255
        img = Image.fromarray((arr * 255 // peak).astype(np.uint8))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return img.convert("L" if img.mode in ("1", "L") else "RGB")


def from_input(row: np.ndarray, channels: int, side: int, size: int) -> Image.Image:
    """A stored model input (uint8, channels x side x side) enlarged to `size`, pixelated."""
    arr = np.asarray(row, dtype=np.uint8).reshape(channels, side, side)
    img = Image.fromarray(arr[0] if channels == 1 else arr.transpose(1, 2, 0))
    return img.resize((size, size), Image.Resampling.NEAREST)


def sniff_suffix(head: bytes) -> str:
    """A file suffix for uploaded bytes, so the reader accepts them; Pillow decides what
    the content really is."""
    if head.startswith(b"\xff\xd8"):
        return ".jpg"
    if head.startswith(b"GIF8"):
        return ".gif"
    if head.startswith(b"BM"):
        return ".bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    return ".png"


def save_in_memory_image(image, path: Path) -> None:
    """A numpy array (HxW, HxWxC or CxHxW) or a PIL image written to `path` as PNG."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[2] not in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)  # channels first -> last
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise SemhashError(f"an image array must be HxW, HxWx3 or HxWx4, not {image.shape}.")
        if arr.dtype != np.uint8:
            arr = np.clip(arr * 255 if arr.max(initial=0) <= 1 else arr, 0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    if not isinstance(image, Image.Image):
        raise SemhashError("image must be a path, image file bytes, a numpy array or a PIL image.")
    image.save(path, format="PNG")
