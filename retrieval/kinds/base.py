"""The input-kind interface: everything that differs between kinds of collection.

A kind answers what depends on what a collection holds, so that no caller compares kind
names: which files it takes and how one is read; how read items become model input, the
model's input shape, input module and config check, and the rows a new model is trained on;
how a query (a file, a folder, typed text, an image in memory) becomes model input; the raw
baseline and the pair similarity that duplicate finding verifies with; thumbnails, previews,
reconstructions and model fields as the page and the command line show them.

Hooks that need the store or the model take `store`: the open collection (its `path` and its
`encoder`, loaded on first use), never imported here, so that `retrieval` stays below
`indexer` and `query`. Kind modules import numpy, PIL, scipy and torch inside their hooks:
the registry costs nothing to import, and commands that need no model never load torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.pool import read_in_order, resolve_workers
from semantic_hashing.retrieval.walk import Listing, ListingRules, walk

# Read items waiting for the consumer hold at most about this much memory.
READ_AHEAD_BYTES = 64 << 20


@dataclass
class Loaded:
    """Items read from files: `items` is what the kind's reader made of them (a uint8 array
    of images, a list of Documents, ...)."""

    paths: list[Path]
    items: object
    meta: list[dict]  # metadata columns per item (no id)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Training:
    """What a kind hands the trainer (`retrieval.fitting`): the training rows, the model
    config fields they fix, what the checkpoint keeps beside the weights, and a setup of the
    fresh model before training."""

    kind: str
    rows: object
    fields: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    setup: Callable | None = None


class Kind:
    """One kind of collection. A subclass sets the class attributes and implements every
    hook named in `HOOKS`; the rest (listing, reading in parallel) is shared."""

    name = ""  # the kind as the sidecar, the model config and `--kind` name it
    noun = "items"  # what the command line calls many of them ("1,000 photos in 2.0 s")
    codes_of = ""  # what its codes are made from, in a sentence ("pixels", "word counts")
    default_family = ""  # the model family trained unless --model-type says otherwise
    train_defaults: dict = {}  # TrainConfig defaults: epochs, steps, batch, lr, schedule
    dedup_threshold = 0.9  # the pair similarity at which two items are duplicates
    # Near-copy candidates of dedup: by default the collection's own codes. A kind whose
    # codes do not keep near copies together sets these and implements `candidate_codes`.
    candidate_bits: int | None = None  # width of its candidate codes
    candidate_radius: int | None = None  # their default Hamming radius
    baseline_method = ""  # the raw baseline's method name in results ("raw-l2")
    baseline_label = ""  # and as `evaluate` prints it ("raw pixels (L2)")
    baseline_caption = ""  # and as the page captions it ("pixels, L2")
    # baselines besides "raw" (`--baseline NAME`): name -> (method, label, caption)
    other_baselines: dict = {}
    page_baseline = "raw"  # the baseline the page compares with
    inferred = True  # `infer_kind` may guess it from a folder's files
    draws_sheets = False  # contact, outlier and reconstruction sheets can be drawn
    previews = False  # items have a text preview (the page shows it beside the card)
    word_counts = False  # inputs are word counts: short typed queries re-ranked by TF-IDF
    takes_images = False  # queries are images (files or in memory), items shown as pictures

    HOOKS = (
        "error", "accept", "reader", "collect", "item_bytes", "features", "found_in",
        "unencodable", "input_shape", "input_module", "check_config", "preset_inputs",
        "training_rows", "model_input", "inputs_from", "load_queries", "typed_query",
        "in_memory_query", "baseline", "raw_features", "pair_similarity", "thumbnail",
        "preview", "reconstruction", "page_fields",
    )  # fmt: skip

    # -- files ----------------------------------------------------------------------------
    @property
    def error(self) -> type[Exception]:
        """What the reader raises for a file to skip (with the reason as its message)."""
        raise NotImplementedError

    def accept(self, path: Path) -> bool:
        """Whether a listed file is a candidate item (by its name)."""
        raise NotImplementedError

    def reader(self, paths: list[Path], encoder, spec) -> Callable:
        """The function that reads one path (module-level or a partial: picklable); sized
        by `encoder` when given, else by `spec` (a fitting.TrainSpec)."""
        raise NotImplementedError

    def collect(self, paths: list[Path], results: list, skipped: list) -> Loaded:
        """What the reader returned for `paths`, as one Loaded."""
        raise NotImplementedError

    def item_bytes(self, encoder, spec) -> int:
        """About how much memory one read item holds (bounds the read-ahead)."""
        raise NotImplementedError

    def features(self, loaded: Loaded, encoder):
        """Read items as model input rows (what the collection stores for each item)."""
        raise NotImplementedError

    def found_in(self, root: Path, rules: ListingRules | None = None) -> bool:
        """Whether the folder holds items of this kind (`--kind` inferred in registry order)."""
        raise NotImplementedError

    def unencodable(self, inputs) -> tuple[object, str] | None:
        """(mask of rows with nothing to encode, each row's reason), or None when every row
        can be encoded."""
        raise NotImplementedError

    def listing(self, root: Path, rules: ListingRules | None = None) -> Listing:
        """The candidate files below `root`, by `rules` (see `retrieval.walk`)."""
        return walk(root, self.accept, rules)

    def list(self, root: Path, rules: ListingRules | None = None) -> list[Path]:
        return self.listing(root, rules).paths

    def read(self, paths: list[Path], encoder, spec=None, show: bool = True,
             workers: int | None = None) -> Loaded:  # fmt: skip
        """Read every path at once (for training and queries); bad files are skipped."""
        chunks = self.stream(paths, encoder, spec, max(1, len(paths)), workers, show)
        return next(chunks, None) or self.collect([], [], [])

    def stream(self, paths: list[Path], encoder, spec, chunk_size: int,
               workers: int | None = None, show: bool = True) -> Iterator[Loaded]:  # fmt: skip
        """`paths` read on `workers` cores (default: all) and handed out `chunk_size` at a
        time, in order, while the pool reads ahead; bad files are skipped with a reason."""
        from semantic_hashing.retrieval.progress import progress

        read, error = self.reader(paths, encoder, spec), self.error
        ahead = max(64, min(chunk_size, READ_AHEAD_BYTES // self.item_bytes(encoder, spec)))
        results = read_in_order(read, paths, error, resolve_workers(workers), ahead)
        bar = progress(total=len(paths), show=show, desc="reading", unit="file")
        ok, done, skipped = [], [], []
        for path, res in zip(paths, results, strict=True):
            if isinstance(res, error):
                skipped.append((str(path), str(res)))
            else:
                ok.append(path)
                done.append(res)
            bar.update()
            if len(ok) + len(skipped) == chunk_size:
                yield self.collect(ok, done, skipped)
                ok, done, skipped = [], [], []
        bar.close()
        if ok or skipped:
            yield self.collect(ok, done, skipped)

    # -- the model ------------------------------------------------------------------------
    def input_shape(self, config) -> tuple[int, ...]:
        """The shape of one model input under `config` (a models.ModelConfig)."""
        raise NotImplementedError

    def input_module(self, config):
        """The model's input module (an nn.Module from `retrieval.inputs`): prepares stored
        rows as tensors, weighs them for the encoder, scores reconstructions."""
        raise NotImplementedError

    def check_config(self, config) -> None:
        """Refuse, in one sentence, a model config this kind cannot be trained with."""
        raise NotImplementedError

    def preset_inputs(self, channels: int = 1) -> str:
        """Which recipe of a quality preset applies ("gray", "color", "text", ...)."""
        raise NotImplementedError

    def training_rows(self, loaded: Loaded, spec) -> Training:
        """The rows and config fields a new model is trained with, from read items."""
        raise NotImplementedError

    def model_input(self, rows, store):
        """Rows the collection stored, shaped as the model takes them."""
        raise NotImplementedError

    def inputs_from(self, rows, other, store):
        """Rows stored by collection `other` (the same kind) as model input of `store`."""
        raise NotImplementedError

    # -- queries: each returns (names, model inputs, skipped files) -----------------------
    def load_queries(self, query: Path, store) -> tuple[list[str], object, list]:
        """A query file or a folder of them, read the way the collection's items were."""
        raise NotImplementedError

    def typed_query(self, text: str, store) -> tuple[list[str], object, list]:
        """A query typed on the command line or the page."""
        raise NotImplementedError

    def in_memory_query(self, obj, store) -> tuple[list[str], object, list]:
        """A query given in memory (image bytes, an array, a PIL image)."""
        raise NotImplementedError

    # -- answers --------------------------------------------------------------------------
    def baseline(self, db_inputs, query_inputs, k: int, name: str = "raw"):
        """The baseline `name` (one of `baselines`; "raw" by default) over stored rows
        `db_inputs` for model inputs `query_inputs`: (D distances, rows of `db_inputs`),
        nearest first."""
        raise NotImplementedError

    @property
    def baselines(self) -> dict[str, tuple[str, str, str]]:
        """The baselines `--baseline` takes here: name -> (method in results, label as
        `evaluate` prints it, caption on the page); "raw" first."""
        raw = (self.baseline_method, self.baseline_label, self.baseline_caption)
        return {"raw": raw, **self.other_baselines}

    def check_baseline(self, name: str) -> None:
        """Refuse, in one sentence, a baseline this kind does not answer."""
        if name not in self.baselines:
            raise SemhashError(f"--baseline {name} does not apply to a {self.name} collection; "
                               f"choose {' or '.join(self.baselines)}.")  # fmt: skip

    def raw_features(self, db_inputs, query_inputs):
        """(database, queries, metric "l2" or "ip"): the raw data as dense float features
        (the benchmark's raw row and the input of LSH, PCA and ITQ)."""
        raise NotImplementedError

    def pair_similarity(self, inputs_a, inputs_b, rows_a, rows_b):
        """Similarity in [-1, 1] of `inputs_a[rows_a[i]]` and `inputs_b[rows_b[i]]` (model
        inputs), (P,) float32: how duplicate finding verifies a candidate pair."""
        raise NotImplementedError

    def candidate_codes(self, inputs):
        """Packed codes (N, candidate_bits / 8) of stored model inputs whose Hamming
        neighbours are the near-copy candidates of dedup (kinds that set candidate_bits)."""
        raise NotImplementedError

    def similarity(self, inputs_a, inputs_b, rows_a=None, rows_b=None):
        """`pair_similarity`, all rows paired in order when `rows_*` are not given."""
        import numpy as np

        n = inputs_a.shape[0] if rows_a is None else len(rows_a)
        rows_a = np.arange(n) if rows_a is None else np.asarray(rows_a)
        rows_b = np.arange(n) if rows_b is None else np.asarray(rows_b)
        return self.pair_similarity(inputs_a, inputs_b, rows_a, rows_b)

    # -- showing --------------------------------------------------------------------------
    def thumbnail(self, row: dict, size: int, stored: Callable):
        """A PIL image of one item (metadata `row`) at most `size` px a side; `stored()`
        gives (its stored input rows, the encoder) when the file cannot be shown."""
        raise NotImplementedError

    def preview(self, row: dict, stored: Callable) -> str:
        """A text item's first lines, or what the stored input tells when the file is gone."""
        raise NotImplementedError

    def reconstruction(self, encoder, x, noisy, out_noisy, out_clean, top_words: int) -> dict:
        """Fields of a query.reconstruct.Reconstruction for one item: model input `x`, its
        corrupted copy and the decoder's logits from each (tensors of one item)."""
        raise NotImplementedError

    def page_fields(self, model: dict) -> dict:
        """Model fields the page and `GET /api/collections/{name}` show for this kind."""
        raise NotImplementedError

    def reencodes(self, stored_config: dict, config: dict) -> bool:
        """Whether a model of `config` takes the inputs a collection stored for a model of
        `stored_config` as they are: `index --rebuild` then encodes them again without
        reading a file (none by default: the files are read again)."""
        return False

    def stored_training(self, rows, config: dict) -> Training:
        """Training rows from a collection's stored inputs (made for a model of `config`):
        `train COLLECTION` trains without reading a file, where the kind allows it."""
        raise SemhashError(f"{self.name} models are trained on the files: give their folder.")

    def check_sheet(self, what: str = "") -> None:
        """Refuse a sheet (`what`: "reconstruction", or any other) that cannot be drawn."""
        if not self.draws_sheets:
            raise SemhashError(f"--sheet draws images; this is a {self.name} collection.")

    def __repr__(self) -> str:
        return f"<kind {self.name}>"
