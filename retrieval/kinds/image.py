"""Image collections: photos and pictures, read at the model's small square size.

Files are decoded by `retrieval.images` (the one reader for indexing and queries alike, so a
file always gets one code); the stored input of an item is its uint8 model input (channels x
size x size), which the raw baseline compares by Euclidean distance, duplicate finding by a
crop-tolerant correlation (`retrieval.similarity`), and the page shows enlarged when the file
is gone.
"""

from __future__ import annotations

import tempfile
import weakref
from functools import partial
from pathlib import Path

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.kinds.base import Kind, Loaded, Training

# Float indexes of the raw baseline, id(raw array) -> index, while the array lives: a server
# that keeps its stored inputs answers each baseline query without converting them again.
_FLAT: dict = {}
KEEP_FLAT_BYTES = 1 << 30  # float indexes up to this size are kept (60k images: 188 MB)


class ImageKind(Kind):
    name = "image"
    codes_of = "pixels"
    noun = "photos"
    default_family = "conv-dae"
    # 6 passes over 60,000 items are 1,410 steps of 256; the floor gives a small folder about
    # as many, the cap keeps a 200,000-item sample within ~10 minutes on a 2-core CPU.
    train_defaults = {"epochs": 6, "min_steps": 1400, "max_steps": 4000, "max_epochs": 100,
                      "batch_size": 256, "lr": 2e-3, "weight_decay": 1e-4,
                      "schedule": "onecycle"}  # fmt: skip
    # Measured on a near-duplicate set built from CIFAR-10 training images (query/dedup.py).
    dedup_threshold = 0.94
    baseline_method = "raw-l2"
    baseline_label = "raw pixels (L2)"
    baseline_caption = "pixels, L2"
    draws_sheets = True
    takes_images = True

    # -- files ----------------------------------------------------------------------------
    @property
    def error(self) -> type[Exception]:
        from semantic_hashing.retrieval.images import UnreadableImage

        return UnreadableImage

    def accept(self, path: Path) -> bool:
        from semantic_hashing.retrieval.images import is_image_path

        return is_image_path(path)

    def reader(self, paths, encoder, spec):
        from semantic_hashing.retrieval.images import load_image

        size, channels = self._shape(paths, encoder, spec)
        return partial(load_image, size=size, channels=channels)

    def _shape(self, paths, encoder, spec) -> tuple[int, int]:
        from semantic_hashing.retrieval.images import sniff_channels

        if encoder is not None:
            return encoder.config.image_size, encoder.config.channels
        channels = sniff_channels(paths)
        return spec.image_size or (28 if channels == 1 else 32), channels

    def item_bytes(self, encoder, spec) -> int:
        size = encoder.config.image_size if encoder is not None else spec.image_size or 32
        return 3 * size * size + 512

    def collect(self, paths, results, skipped) -> Loaded:
        """Decoded (array, info) pairs as one (N, channels, size, size) uint8 block."""
        import numpy as np

        meta = [{"sha256": info.sha256, "width": info.width, "height": info.height,
                 "mode": info.mode, "title": path.name}
                for path, (_, info) in zip(paths, results, strict=True)]  # fmt: skip
        stacked = (np.stack([arr for arr, _ in results]) if results
                   else np.zeros((0, 1, 1, 1), np.uint8))  # fmt: skip
        return Loaded(paths, stacked, meta, skipped)

    def features(self, loaded: Loaded, encoder):
        return loaded.items

    def found_in(self, root, rules=None) -> bool:
        return bool(self.list(root, rules))

    def unencodable(self, inputs) -> None:
        return None  # every decoded image has pixels to encode

    # -- the model ------------------------------------------------------------------------
    def input_shape(self, config) -> tuple[int, ...]:
        return (config.channels, config.image_size, config.image_size)

    def input_module(self, config):
        from semantic_hashing.retrieval.inputs import ImageInput

        return ImageInput(config)

    def check_config(self, config) -> None:
        if config.image_size % 4:
            raise SemhashError(f"the image size must be a multiple of 4, not {config.image_size}.")

    def preset_inputs(self, channels: int = 1) -> str:
        return "gray" if channels == 1 else "color"

    def training_rows(self, loaded: Loaded, spec) -> Training:
        return self.training(loaded.items)

    def training(self, images) -> Training:
        """Training on uint8 images (N, C, S, S): the model takes their channels and size."""
        return Training(self.name, images, {"channels": images.shape[1],
                                            "image_size": images.shape[2]})  # fmt: skip

    def model_input(self, rows, store):
        import numpy as np

        cfg = store.encoder.config
        return np.asarray(rows).reshape(len(rows), cfg.channels, cfg.image_size, cfg.image_size)

    def inputs_from(self, rows, other, store):
        import numpy as np

        cfg = store.encoder.config
        shape = (cfg.channels, cfg.image_size, cfg.image_size)
        if int(np.prod(rows.shape[1:])) != int(np.prod(shape)):
            ocfg = other.encoder.config
            raise SemhashError(
                f"{other.path} keeps {ocfg.channels}x{ocfg.image_size}x{ocfg.image_size} inputs "
                f"and {store.path} {cfg.channels}x{cfg.image_size}x{cfg.image_size}; compare its "
                "folder with --query instead."
            )
        return np.asarray(rows).reshape(len(rows), *shape)

    # -- queries --------------------------------------------------------------------------
    def load_queries(self, query, store):
        """An image file or a folder of images, resized to the collection's model input."""
        from semantic_hashing.retrieval.images import is_image_path, list_images

        query = Path(query)
        if not query.exists():
            raise SemhashError(f"{query} does not exist.")
        paths = list_images(query) if query.is_dir() else [query]
        if query.is_file() and not is_image_path(query):
            raise SemhashError(f"{query} is not an image file (by its extension).")
        if not paths:
            raise SemhashError(f"no image files were found in {query}.")
        loaded = self.read(paths, store.encoder)
        if query.is_file() and loaded.skipped:
            raise SemhashError(f"{query} cannot be read: {loaded.skipped[0][1]}.")
        return [str(p) for p in loaded.paths], loaded.items, loaded.skipped

    def typed_query(self, text, store):
        raise SemhashError(f"{store.path} is an image collection; --text needs a text one.")

    def in_memory_query(self, obj, store):
        """Image file bytes, a numpy array or a PIL image: written to a file that goes
        through the same reader as indexing, so a file and its bytes always get one code."""
        from semantic_hashing.retrieval.images import save_in_memory_image, sniff_suffix

        with tempfile.TemporaryDirectory(prefix="semhash-query-") as tmp:
            path = Path(tmp) / "query.png"
            if isinstance(obj, bytes | bytearray | memoryview):
                path = path.with_suffix(sniff_suffix(bytes(obj[:16])))
                path.write_bytes(bytes(obj))
            else:
                save_in_memory_image(obj, path)
            try:
                _, inputs, skipped = self.load_queries(path, store)
            except SemhashError as exc:  # name the image, not its temporary file
                raise SemhashError(str(exc).replace(str(path), "the image")) from None
        return ["(uploaded image)"], inputs, skipped

    # -- answers --------------------------------------------------------------------------
    def baseline(self, db_inputs, query_inputs, k: int, name: str = "raw"):
        import numpy as np

        return raw_l2(None if db_inputs is None else np.asarray(db_inputs), query_inputs, k)

    def raw_features(self, db_inputs, query_inputs):
        """Pixels in [0, 1], compared by Euclidean distance."""
        import numpy as np

        flat = [x.reshape(len(x), -1).astype(np.float32) / 255.0
                for x in (db_inputs, query_inputs)]  # fmt: skip
        return flat[0], flat[1], "l2"

    def pair_similarity(self, inputs_a, inputs_b, rows_a, rows_b):
        from semantic_hashing.retrieval.similarity import image_pairs

        return image_pairs(inputs_a, inputs_b, rows_a, rows_b)

    # -- showing --------------------------------------------------------------------------
    def thumbnail(self, row, size, stored):
        """The indexed file while it is still a readable image, else the stored model input
        (the small picture the model saw)."""
        from semantic_hashing.retrieval.images import from_input, thumbnail

        img = thumbnail(row["path"], size)
        if img is None:
            rows, encoder = stored()
            cfg = encoder.config
            img = from_input(rows[0], cfg.channels, cfg.image_size, size)
        return img

    def preview(self, row, stored) -> str:
        raise SemhashError("image items have thumbnails, not text previews.")

    def reconstruction(self, encoder, x, noisy, out_noisy, out_clean, top_words: int) -> dict:
        """Float arrays (C, S, S) in [0, 1]: the input, its corrupted copy, and the decoder's
        pixels from each."""
        return {"input": x.cpu().numpy(), "corrupted": noisy.clamp(0, 1).cpu().numpy(),
                "reconstruction": out_noisy.sigmoid().cpu().numpy(),
                "clean_reconstruction": out_clean.sigmoid().cpu().numpy()}  # fmt: skip

    def page_fields(self, model: dict) -> dict:
        return {"image_size": model.get("image_size"), "channels": model.get("channels")}


def _flat_l2(raw, chunk: int):
    """The float index over `raw`, built once per array when small enough."""
    import faiss
    import numpy as np

    key = id(raw)
    if key in _FLAT:
        return _FLAT[key]
    index = faiss.IndexFlatL2(raw.shape[1])
    for start in range(0, len(raw), chunk):
        index.add(np.ascontiguousarray(raw[start : start + chunk], dtype=np.float32) / 255.0)
    if raw.size * 4 <= KEEP_FLAT_BYTES:
        _FLAT[key] = index
        weakref.finalize(raw, _FLAT.pop, key, None)  # dropped with the array
    return index


def raw_l2(raw, queries, k: int, chunk: int = 65536):
    """Exact Euclidean search on raw pixels scaled to [0, 1]: (D distances, I rows of `raw`)."""
    import numpy as np

    if raw is None or not len(raw):
        raise SemhashError("this collection keeps no raw data for the raw baseline.")
    dim = raw.shape[1]
    index = _flat_l2(raw, chunk)
    q = np.ascontiguousarray(queries.reshape(len(queries), dim), dtype=np.float32) / 255.0
    D, I = index.search(q, min(k, len(raw)))
    return np.sqrt(np.maximum(D, 0)), I.astype(np.int64)
