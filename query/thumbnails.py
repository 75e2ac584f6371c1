"""Pictures of stored items, for the web page: by item, never by a given path.

What an item looks like is its input kind's answer (`Kind.thumbnail`): an image item comes
from its indexed file while that is still a readable image, else from its stored model input
(the small picture the model saw); a text item is drawn as a card of its title and first
lines. Here: the sizes the page may ask for, and the PNG it gets.
"""

from __future__ import annotations

import io

from PIL import Image

MIN_SIZE, MAX_SIZE = 16, 512


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
