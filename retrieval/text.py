"""Documents as bags of words: reading text files safely, header stripping, vocabulary.

One document per file. A mail/news header block (the lines before the first blank line,
when they look like `Key: value`) is stripped by default: in 20 Newsgroups it names the
group and would leak the label into the codes. Its `Subject:` becomes the title.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import sha256_of
from semantic_hashing.retrieval.walk import ListingRules, walk

TEXT_EXTENSIONS = {".txt", ".md", ".text", ".rst"}
MAX_BYTES = 4 * 1024 * 1024  # read at most this much of a document
TOKEN = re.compile(r"\b[a-z][a-z]+\b")  # alphabetic words of 2+ letters, as scikit-learn
# An RFC 822 field name is any printable ASCII character but the colon (`Article-I.D.:`,
# `X-Mailer:`); the name is followed by the colon and then a blank or the line's end.
HEADER_LINE = re.compile(r"^[!-9;-~]+:(\s|$)")


class UnreadableText(Exception):
    """One document that cannot be used; the message is the reason."""


@dataclass(frozen=True)
class Document:
    text: str  # the body, header stripped
    title: str
    sha256: str
    size: int  # bytes on disk


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def split_header(text: str) -> tuple[dict[str, str], str]:
    """(header fields, body). Without a `Key: value` first line there is no header; a
    block whose lines are not all fields (or folded continuations) is not a header either."""
    lines = text.split("\n")
    if not lines or not HEADER_LINE.match(lines[0]):
        return {}, text
    fields: dict[str, str] = {}
    key = None
    for n, line in enumerate(lines):
        if not line.strip():
            return fields, "\n".join(lines[n + 1 :])
        if line[:1] in " \t" and key:  # folded continuation line
            fields[key] += " " + line.strip()
        elif HEADER_LINE.match(line):
            name, _, value = line.partition(":")
            key = name.strip().lower()
            fields[key] = value.strip()
        else:  # not a header block after all
            return {}, text
    return fields, ""


def decode(data: bytes) -> str:
    """UTF-8, falling back to latin-1 (which decodes any byte string)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in sample)
    return controls > 0.10 * max(1, len(sample))  # decorated signatures reach ~5%


def read_document(path: str | Path, strip_headers: bool = True) -> Document:
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise UnreadableText("not a regular file")
        size = st.st_size
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES)
    except OSError as exc:
        raise UnreadableText(f"cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise UnreadableText("empty document")
    if looks_binary(data):
        raise UnreadableText("binary content, not text")
    text = decode(data).replace("\r\n", "\n")
    fields, body = split_header(text) if strip_headers else ({}, text)
    title = fields.get("subject") or next(
        (ln.strip() for ln in body.splitlines() if ln.strip()), ""
    )
    digest = hashlib.sha256(data).hexdigest() if size <= MAX_BYTES else sha256_of(path)
    return Document(body, title[:200], digest, size)


def is_text_path(path: Path) -> bool:
    """A text extension, or no extension at all (as in 20 Newsgroups: one post per file)."""
    return path.suffix.lower() in TEXT_EXTENSIONS or (path.suffix == "" and path.is_file())


def is_document_path(path: Path) -> bool:
    """A candidate document: a text path, or a link (checked when read)."""
    return is_text_path(path) or path.is_symlink()


def list_documents(root: str | Path, rules: ListingRules | None = None) -> list[Path]:
    """Candidate text files below `root` (recursive, sorted; hidden and junk folders
    skipped, symlinked folders not followed unless `rules` say so). A file given as
    `root` is taken whatever its name."""
    if Path(root).is_file():
        return [Path(root)]
    return walk(root, is_document_path, rules).paths


def tokenize(text: str, stops: frozenset[str]) -> list[str]:
    return [w for w in TOKEN.findall(text.lower()) if w not in stops and len(w) > 1]


VOCAB_RANKINGS = ("df", "count")  # document frequency, total count


@dataclass
class Vocabulary:
    """The kept words, highest ranked (document frequency or total count) first."""

    words: list[str]

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}
        self._stops = stop_words()

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(
        cls, texts: Iterable[str], size: int = 2000, min_df: int = 3, max_df: float = 0.5,
        by: str = "df",
    ) -> Vocabulary:  # fmt: skip
        """Drop stop words, words in fewer than `min_df` documents or in more than a
        `max_df` fraction of them (collections of 50 or more documents); keep the `size`
        words ranked highest `by` document frequency ("df": in how many documents) or total
        count ("count": how often in all), ties alphabetical."""
        if by not in VOCAB_RANKINGS:
            raise SemhashError(
                f"unknown vocabulary ranking {by!r}; choose one of {', '.join(VOCAB_RANKINGS)}."
            )
        stops, df, total, n = stop_words(), Counter(), Counter(), 0
        for text in texts:
            words = tokenize(text, stops)
            df.update(set(words))
            total.update(words)
            n += 1
        lo, hi = (min_df, max_df * n) if n >= 50 else (1, n)  # tiny collections keep all
        rank = df if by == "df" else total
        ok = [(w, rank[w]) for w, c in df.items() if lo <= c <= hi]
        ok.sort(key=lambda wc: (-wc[1], wc[0]))
        return cls([w for w, _ in ok[:size]])

    def counts(self, texts: Iterable[str]) -> sparse.csr_matrix:
        """Word counts (documents x vocabulary), float32 CSR."""
        indptr, indices, values = [0], [], []
        for text in texts:
            c = Counter(self.index[w] for w in tokenize(text, self._stops) if w in self.index)
            indices += c.keys()
            values += c.values()
            indptr.append(len(indices))
        shape = (len(indptr) - 1, len(self.words))
        return sparse.csr_matrix(
            (np.array(values, np.float32), np.array(indices, np.int64), np.array(indptr)), shape
        )
