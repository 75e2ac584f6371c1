"""Pictures and snippets of stored items, for the web page: by item, never by a given path.

An image item's thumbnail comes from its indexed file while that is still a readable image
(decoded under the same pixel limit as indexing), else from its stored model input (the
small picture the model saw); a text item's preview is its title and first lines, or the
words it weighs most when the file is gone.
"""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from semantic_hashing.retrieval import images, text

MIN_SIZE, MAX_SIZE = 16, 512
MAX_FILE_BYTES = 64 * 1024 * 1024  # a bigger file is shown from its stored input


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def from_file(path: str | Path, size: int) -> Image.Image | None:
    """The image at `path` shrunk to fit `size` x `size`, or None when it cannot be read."""
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = images.MAX_PIXELS
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > images.MAX_PIXELS:
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


def text_preview(path: str | Path, lines: int = 6, width: int = 400) -> str:
    """The first non-empty lines of a document's body (header stripped), or "" when the
    file can no longer be read as text."""
    try:
        doc = text.read_document(path)
    except text.UnreadableText:
        return ""
    kept = [ln.strip() for ln in doc.text.splitlines() if ln.strip()][:lines]
    out = "\n".join(kept)
    return out if len(out) <= width else out[: width - 1].rstrip() + "\u2026"


def top_words(counts, words: list[str], n: int = 12) -> str:
    """The words of a stored bag of words, most frequent first (a gone file's preview)."""
    row = counts.tocsr() if hasattr(counts, "tocsr") else counts
    idx, vals = row.indices, row.data
    order = np.argsort(-vals, kind="stable")[:n]
    return ", ".join(words[int(idx[i])] for i in order)


def text_card(title: str, body: str, size: int) -> Image.Image:
    """A text item drawn as a small card: its title, then its first lines."""
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(max(8, size // 12))
    per_line = max(8, int(size / (font.size * 0.55)))
    y, step = 4, font.size + 3
    for n, chunk in enumerate([title] + body.splitlines()):
        for k in range(0, max(1, len(chunk)), per_line):
            if y + step > size:
                return img
            ink = (20, 20, 20) if n == 0 else (90, 90, 90)
            draw.text((4, y), chunk[k : k + per_line], fill=ink, font=font)
            y += step
    return img
