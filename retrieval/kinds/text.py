"""Text collections: documents as bags of words over the model's vocabulary.

Files are read by `retrieval.text` (headers stripped, the subject as title); the stored input
of an item is its word counts over the vocabulary the model was trained with (kept in the
checkpoint), which the raw baseline compares by TF-IDF cosine and duplicate finding by the
cosine of log counts. Short typed queries are re-ranked by TF-IDF (`query.rerank`).
"""

from __future__ import annotations

from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds.base import Kind, Loaded, Training

# A document needs this many different words of the model's vocabulary to be indexed.
MIN_KNOWN_WORDS = 3

# The recipe that measured best on 20 Newsgroups (see README): straight-through Bernoulli
# codes, half of the words dropped from the input, a light bit-balance penalty, median
# thresholds (the image models' thermometer quantiser measured P@100 0.433 against the
# median's 0.461 on the same 64-bit model: these codes are near-binary already), and the
# log-linear decoder of VDSH/NASH (softmax of a linear map of the code), which with 10,000
# words ranked by total count lifted 64-bit P@100 from 0.470 (2,000 words by document
# frequency, one hidden decoder layer) to 0.569.
TEXT_DEFAULTS = {
    "hidden": 500, "corruption": "mask", "corruption_level": 0.5, "code_layer": "bernoulli",
    "balance_weight": 0.1, "threshold": "median", "decoder_layers": 0,
}  # fmt: skip


class TextKind(Kind):
    name = "text"
    codes_of = "word counts"
    noun = "documents"
    default_family = "bow-ae"
    train_defaults = {"epochs": 20, "min_steps": 2500, "max_steps": 8000, "max_epochs": 200,
                      "batch_size": 100, "lr": 1e-3, "weight_decay": 0.0,
                      "schedule": "constant"}  # fmt: skip
    # Not tuned: 20 Newsgroups' known duplicates are byte-identical.
    dedup_threshold = 0.90
    baseline_method = "tfidf-cosine"
    baseline_label = "TF-IDF cosine"
    baseline_caption = "TF-IDF cosine"
    previews = True
    word_counts = True

    # -- files ----------------------------------------------------------------------------
    @property
    def error(self) -> type[Exception]:
        from semantic_hashing.retrieval.text import UnreadableText

        return UnreadableText

    def accept(self, path: Path) -> bool:
        from semantic_hashing.retrieval.text import is_document_path

        return is_document_path(path)

    def reader(self, paths, encoder, spec):
        from semantic_hashing.retrieval.text import read_document

        return read_document

    def item_bytes(self, encoder, spec) -> int:
        return 16384

    def collect(self, paths, results, skipped) -> Loaded:
        meta = [{"sha256": d.sha256, "title": d.title} for d in results]
        return Loaded(paths, results, meta, skipped)

    def features(self, loaded: Loaded, encoder):
        return vocabulary(encoder).counts(d.text for d in loaded.items)

    def found_in(self, root, rules=None) -> bool:
        """Text files, at least one of the first 50 readable as text."""
        from semantic_hashing.retrieval.text import UnreadableText, read_document

        for path in self.list(root, rules)[:50]:
            try:
                read_document(path)
                return True
            except UnreadableText:
                continue
        return False

    def unencodable(self, inputs):
        """Documents with no word of the model's vocabulary have nothing to encode: their
        code would be the code of an empty text, close to every other such document. With
        fewer than `MIN_KNOWN_WORDS` different known words there is too little to compare:
        a one-word note would be a 1.000-similar duplicate of any long post whose only known
        word it shares."""
        known = inputs.getnnz(axis=1)
        reasons = [
            "no word of the model's vocabulary" if n == 0 else
            f"too few words of the model's vocabulary to compare ({n} of at least "
            f"{MIN_KNOWN_WORDS} different ones)"
            for n in known.tolist()
        ]  # fmt: skip
        return known < MIN_KNOWN_WORDS, reasons

    # -- the model ------------------------------------------------------------------------
    def input_shape(self, config) -> tuple[int, ...]:
        return (config.vocab_size,)

    def input_module(self, config):
        from semantic_hashing.retrieval.inputs import CountInput

        return CountInput(config)

    def check_config(self, config) -> None:
        return None  # the vocabulary size comes from the trained vocabulary

    def preset_inputs(self, channels: int = 1) -> str:
        return "text"

    def training_rows(self, loaded: Loaded, spec) -> Training:
        return self.training([d.text for d in loaded.items], spec)

    def training(self, texts: list[str], spec) -> Training:
        """Build the vocabulary (`spec.vocab` words ranked by `spec.vocab_by`), then train
        on the word counts."""
        from semantic_hashing.retrieval.text import Vocabulary

        vocab = Vocabulary.build(texts, spec.vocab, by=spec.vocab_by)
        if len(vocab) < 2:
            raise SemhashError("the documents share too few words to build a vocabulary.")
        return self.training_counts(vocab.counts(texts), vocab.words)

    def training_counts(self, counts, words: list[str]) -> Training:
        """Training on word counts (documents x `words`); the decoder reconstructs the
        words weighted by their IDF in these documents."""
        import numpy as np

        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        idf = np.log((1 + counts.shape[0]) / (1 + df)) + 1

        def weigh_words(model) -> None:
            import torch

            model.inputs.word_weight.copy_(torch.as_tensor(idf, dtype=torch.float32))

        fields = {"vocab_size": len(words), **TEXT_DEFAULTS}
        return Training(self.name, counts, fields, {"vocab": list(words)}, weigh_words)

    def model_input(self, rows, store):
        return rows  # word counts are the model input as stored

    def inputs_from(self, rows, other, store):
        return remap_counts(rows, other.encoder.extra.get("vocab", []),
                            store.encoder.extra.get("vocab", []))  # fmt: skip

    # -- queries --------------------------------------------------------------------------
    def load_queries(self, query, store):
        """A text file or a folder of them; queries with no vocabulary word are skipped."""
        from semantic_hashing.retrieval.images import is_image_path
        from semantic_hashing.retrieval.text import list_documents

        query = Path(query)
        if query.is_file() and is_image_path(query):
            raise SemhashError(f"{store.path} is a text collection; it cannot be searched "
                               "with images.")  # fmt: skip
        if not query.exists():
            raise SemhashError(f"{query} does not exist.")
        paths = list_documents(query)
        if not paths:
            raise SemhashError(f"no text files were found in {query}.")
        loaded = self.read(paths, store.encoder)
        if query.is_file() and loaded.skipped:
            raise SemhashError(f"{query} cannot be read: {loaded.skipped[0][1]}.")
        names = [str(p) for p in loaded.paths]
        texts = [d.text for d in loaded.items]
        return _counted(store, names, texts, loaded.skipped, query.is_file())

    def typed_query(self, text, store):
        return _counted(store, [text], [text], [], single=True)

    def in_memory_query(self, obj, store):
        raise SemhashError(f"{store.path} is a text collection; search it with text.")

    # -- answers --------------------------------------------------------------------------
    def baseline(self, db_inputs, query_inputs, k: int, name: str = "raw"):
        return tfidf_cosine(db_inputs, query_inputs, k)

    def raw_features(self, db_inputs, query_inputs):
        """TF-IDF fitted on the database, L2-normalised, compared by inner product (cosine)."""
        import numpy as np
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfTransformer

        tfidf = TfidfTransformer(sublinear_tf=True).fit(db_inputs)
        out = [tfidf.transform(x) for x in (db_inputs, query_inputs)]
        out = [x.toarray() if sparse.issparse(x) else x for x in out]
        return out[0].astype(np.float32), out[1].astype(np.float32), "ip"

    def pair_similarity(self, inputs_a, inputs_b, rows_a, rows_b):
        from semantic_hashing.retrieval.similarity import text_pairs

        return text_pairs(inputs_a, inputs_b, rows_a, rows_b)

    # -- showing --------------------------------------------------------------------------
    def thumbnail(self, row, size, stored):
        """A card of the title and first lines."""
        return text_card(row["title"], self.preview(row, stored), size)

    def preview(self, row, stored) -> str:
        """The first lines of the document (or, its file gone, its most frequent words)."""
        shown = text_preview(row["path"])
        if shown:
            return shown
        counts, encoder = stored()
        return "(file gone; its words: " + top_words(counts[0], vocabulary(encoder).words) + ")"

    def reconstruction(self, encoder, x, noisy, out_noisy, out_clean, top_words: int) -> dict:
        """The document's top words, those the corruption kept, and the top words of the
        decoder's word distribution from each."""
        vocab = list(encoder.extra.get("vocab", []))
        words = {
            "input": _top_words(x.cpu().numpy(), vocab, top_words),  # prepare(): the counts
            "corrupted": _top_words(noisy.cpu().numpy(), vocab, top_words),
            "reconstruction": _top_words(out_noisy.softmax(0).cpu().numpy(), vocab, top_words),
            "clean_reconstruction": _top_words(out_clean.softmax(0).cpu().numpy(), vocab,
                                               top_words),
        }  # fmt: skip
        return {"words": words}

    def page_fields(self, model: dict) -> dict:
        return {"image_size": None, "channels": None}


def vocabulary(encoder):
    """The vocabulary a text model was trained with (kept in its checkpoint)."""
    from semantic_hashing.retrieval.text import Vocabulary

    if "vocab" not in encoder.extra:
        raise SemhashError("this model has no vocabulary: it is not a text model.")
    return Vocabulary(list(encoder.extra["vocab"]))


def _counted(store, names, texts, skipped, single: bool):
    """Word counts of query `texts`; those with no vocabulary word are skipped (refused when
    `single`)."""
    import numpy as np

    counts = vocabulary(store.encoder).counts(texts)
    empty = np.flatnonzero(counts.getnnz(axis=1) == 0)
    if single and len(empty):
        raise SemhashError(
            "nothing to search with: the query has only stop words or words the collection "
            "does not know."
        )
    keep = np.setdiff1d(np.arange(len(names)), empty)
    skipped = skipped + [(names[i], "no known words to search with") for i in empty]
    return [names[i] for i in keep], counts[keep], skipped


def remap_counts(counts, words_from: list[str], words_to: list[str]):
    """Word counts over one vocabulary as counts over another (unknown words dropped)."""
    import numpy as np
    from scipy import sparse

    index = {w: i for i, w in enumerate(words_to)}
    src = [i for i, w in enumerate(words_from) if w in index]
    dst = [index[words_from[i]] for i in src]
    move = sparse.csr_matrix((np.ones(len(src), np.float32), (src, dst)),
                             shape=(len(words_from), len(words_to)))  # fmt: skip
    return (sparse.csr_matrix(counts, dtype=np.float32) @ move).tocsr()


def tfidf_cosine(raw_counts, query_counts, k: int):
    """Exact TF-IDF cosine search over word counts: (D = 1 - cosine, I rows of `raw_counts`).

    IDF comes from the collection; term frequencies are sublinear (1 + log tf)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfTransformer

    if raw_counts is None or not raw_counts.shape[0]:
        raise SemhashError("this collection keeps no word counts for the TF-IDF baseline.")
    tfidf = TfidfTransformer(sublinear_tf=True).fit(raw_counts)
    db = tfidf.transform(raw_counts).astype(np.float32).T.tocsr()
    q = tfidf.transform(query_counts).astype(np.float32)
    k = min(k, raw_counts.shape[0])
    D, I = [], []
    for start in range(0, q.shape[0], 256):
        sims = (q[start : start + 256] @ db).toarray()
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        D.append(1.0 - np.take_along_axis(sims, top, 1))
        I.append(top)
    return np.concatenate(D), np.concatenate(I).astype(np.int64)


def _top_words(weights, vocab: list[str], n: int) -> list[tuple[str, float]]:
    import numpy as np

    order = np.argsort(-weights, kind="stable")[:n]
    return [(vocab[i], float(weights[i])) for i in order if weights[i] > 0]


def text_preview(path: str | Path, lines: int = 6, width: int = 400) -> str:
    """The first non-empty lines of a document's body (header stripped), or "" when the
    file can no longer be read as text."""
    from semantic_hashing.retrieval.text import UnreadableText, read_document

    try:
        doc = read_document(path)
    except UnreadableText:
        return ""
    kept = [ln.strip() for ln in doc.text.splitlines() if ln.strip()][:lines]
    out = "\n".join(kept)
    return out if len(out) <= width else out[: width - 1].rstrip() + "\u2026"


def top_words(counts, words: list[str], n: int = 12) -> str:
    """The words of a stored bag of words, most frequent first (a gone file's preview)."""
    import numpy as np

    row = counts.tocsr() if hasattr(counts, "tocsr") else counts
    idx, vals = row.indices, row.data
    order = np.argsort(-vals, kind="stable")[:n]
    return ", ".join(words[int(idx[i])] for i in order)


def text_card(title: str, body: str, size: int):
    """A text item drawn as a small card: its title, then its first lines."""
    from PIL import Image, ImageDraw, ImageFont

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
