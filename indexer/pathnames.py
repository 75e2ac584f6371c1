"""File names as the metadata stores them: always valid UTF-8, reversibly."""

from __future__ import annotations

import re


def to_db(name: str) -> str:
    """A file name as stored: always valid UTF-8. Bytes that are not UTF-8 (the surrogate
    escapes of os.fsdecode) become \\xNN and a backslash becomes two, so the mapping is
    reversible, one character at a time (a folder's prefix stays a prefix)."""
    if "\\" not in name and not _SURROGATE.search(name):
        return name
    return "".join("\\\\" if c == "\\" else f"\\x{ord(c) - 0xDC00:02x}" if _SURROGATE.match(c)
                   else c for c in name)  # fmt: skip


def from_db(text: str) -> str:
    """The file name `to_db` stored (os.fsencode of it gives the original bytes)."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(0xDC00 + int(m[1][1:], 16)), text)


_SURROGATE = re.compile("[\udc80-\udcff]")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")
