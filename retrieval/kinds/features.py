"""Photo collections seen through a frozen pretrained backbone: the "features" kind.

Pixel codes learn colour and layout; a network pretrained on ImageNet sees what is in a
photo. This kind reads the same image files as the image kind, with the same scaled-decode
reader (`retrieval.images.load_image`), at the backbone's input size in RGB, and turns each
photo into the backbone's float features (`retrieval.backbones`), batched on every core (or
on the model's GPU). The hashing autoencoder learns its binary code over those features.

What the collection stores for an item is one uint8 row: the features as float16, then a
small RGB copy of the photo (`PIXELS` x `PIXELS`). The features are everything re-encoding
needs (`check --repair`, `index --rebuild`, a new model), so the backbone runs once per
file; the small pixels keep `--baseline raw` (Euclidean distance on pixels) and the
thumbnail of a file that is gone, and duplicate verification (a near-copy is the same
picture, which pixels tell better than features). `--baseline features` answers by the
cosine of the float features; outliers are the items whose features the model reconstructs
worst (by cosine).

The backbone's fingerprint (name, input size, feature width, weights, pass size) is part of
the model's config, so of the collection's fingerprint: a query always goes through the
extractor the collection was built with, and installed weights that differ are refused.
"""

from __future__ import annotations

import logging

from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.extraction import check_fingerprint, extract, shared_backbone
from semantic_hashing.retrieval.kinds.base import Loaded, Training
from semantic_hashing.retrieval.kinds.feature_rows import (  # noqa: F401 (the kind's rows)
    PIXELS,
    cosine_index,
    derived,
    dim_of,
    empty_rows,
    pack,
    row_width,
    unit_rows,
    unpack_features,
    unpack_pixels,
)
from semantic_hashing.retrieval.kinds.image import ImageKind

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet-lite0"
# The side the backbone sees. Measured on 2 shared CPU cores (batch 8): 224 px ~29 img/s,
# 128 px ~116-141, 96 px ~237-370; on 3,000 CIFAR-10 items the float features' P@100 was
# 0.449 at 224 px against 0.426 at 128. See the README for what the input size costs.
DEFAULT_INPUT_SIZE = 128
SUB_CHUNK = 256  # files extracted together while the readers read ahead
FEATURE_CORRUPTIONS = ("gaussian", "mask", "none")
# `--features auto` on an image folder: the backbone where it wins clearly (measured on
# CIFAR-10 and Fashion-MNIST, see the README), by whether the folder holds colour images.
AUTO_BACKBONE = {"color": True, "gray": False}
FEATURES_ENV = "SEMHASH_FEATURES"  # the default of --features (auto when unset)


class FeaturesKind(ImageKind):
    """Photos as a frozen backbone's features. Files, queries and thumbnails are the image
    kind's; everything the model sees is features."""

    name = "features"
    noun = "photos"
    codes_of = "a backbone's features"
    default_family = "feature-dae"
    inferred = False  # never guessed from a folder: `--features` chooses it
    # Measured on CIFAR-10 (50,000 photos, 64 bits, median cuts): 1,500 steps of 256 gave
    # P@100 0.523, 3,000 steps 0.518 and 5,850 (a wider model) 0.504, so about 8 passes,
    # at least 1,500 steps (a small folder: at most 100 passes) and at most 3,000.
    train_defaults = {"epochs": 8, "min_steps": 1500, "max_steps": 3000, "max_epochs": 100,
                      "batch_size": 256, "lr": 1e-3, "weight_decay": 1e-4,
                      "schedule": "onecycle"}  # fmt: skip
    # Duplicates are verified on the stored small copies, as image collections verify theirs
    # (`pair_similarity`); on the near-duplicate set its best F1 was at this threshold too.
    dedup_threshold = 0.94
    # Near copies are found by a hash of the small copies, not by the codes, which code what
    # is in a photo: on the CIFAR-10 near-duplicate set the features codes' candidates kept
    # pairwise recall at 0.60 (F1 0.74). Radius 16 of 64 bits was chosen on a set made from
    # CIFAR-10 training images (F1 0.918 at 14, 0.948 at 16, 0.957 at 18 for 3.4x the pairs).
    candidate_bits = 64
    candidate_radius = 16
    baseline_method = "raw-l2"
    baseline_label = "raw pixels (L2)"
    baseline_caption = "pixels, L2"
    other_baselines = {"features": ("features-cosine", "backbone features (cosine)",
                                    "backbone features, cosine")}  # fmt: skip
    page_baseline = "features"
    draws_sheets = True
    takes_images = True

    # -- files ----------------------------------------------------------------------------
    def reader(self, paths, encoder, spec):
        from functools import partial

        return partial(load_photo, size=self._backbone_size(encoder, spec), side=PIXELS)

    def item_bytes(self, encoder, spec) -> int:
        size = self._backbone_size(encoder, spec)
        return 3 * size * size + 3 * PIXELS * PIXELS + 512

    def collect(self, paths, results, skipped) -> Loaded:
        """Decoded ((photo, small copy), info) pairs as one uint8 block: each row the photo
        at the backbone's size (3 x S x S), then its small copy (3 x PIXELS x PIXELS)."""
        import numpy as np

        meta = [{"sha256": info.sha256, "width": info.width, "height": info.height,
                 "mode": info.mode, "title": path.name}
                for path, (_, info) in zip(paths, results, strict=True)]  # fmt: skip
        rows = [np.concatenate([big.reshape(-1), small.reshape(-1)]) for (big, small), _ in results]
        stacked = np.stack(rows) if rows else np.zeros((0, 0), np.uint8)
        return Loaded(paths, stacked, meta, skipped)

    def stream(self, paths, encoder, spec, chunk_size, workers=None, show=True):
        """The image files read on `workers` cores and run through the backbone a few
        hundred at a time while the readers read ahead: each Loaded holds stored rows."""
        import numpy as np

        backbone = self.backbone(encoder, spec)
        size = backbone.input_size
        sub = max(1, min(chunk_size, SUB_CHUNK))
        parts: list[Loaded] = []
        count = 0
        for loaded in super().stream(paths, encoder, spec, sub, workers, show):
            decoded = loaded.items
            n = len(loaded.paths)
            big = decoded[:, : 3 * size * size].reshape(n, 3, size, size)
            small = decoded[:, 3 * size * size :].reshape(n, 3, PIXELS, PIXELS)
            loaded.items = pack(extract(backbone, big), small) if n else empty_rows(backbone)
            parts.append(loaded)
            count += n + len(loaded.skipped)
            if count >= chunk_size:
                yield _joined(parts, np)
                parts, count = [], 0
        if parts:
            yield _joined(parts, np)

    def features(self, loaded: Loaded, encoder):
        return loaded.items  # the rows were made while reading (`stream`)

    def found_in(self, root, rules=None) -> bool:
        return bool(self.list(root, rules))

    # -- the backbone -----------------------------------------------------------------------
    def _backbone_size(self, encoder, spec) -> int:
        if encoder is not None:
            return int(_recorded(encoder.config)["input_size"])
        return int(getattr(spec, "image_size", 0) or DEFAULT_INPUT_SIZE)

    def backbone(self, encoder, spec):
        """The backbone a model was trained with (`encoder`; its recorded fingerprint must
        match the installed weights), else the one `spec` asks for, on the model's device."""
        if encoder is not None:
            fp = _recorded(encoder.config)
            device = str(encoder.model.device)
            backbone = shared_backbone(fp["name"], int(fp["input_size"]), int(fp["batch_size"]),
                                       device)  # fmt: skip
            check_fingerprint(backbone, fp)
            return backbone
        name = getattr(spec, "features", "") or DEFAULT_BACKBONE
        if name in ("auto", "pixels"):
            name = DEFAULT_BACKBONE
        from semantic_hashing.retrieval.devices import resolve_device

        device = resolve_device(getattr(spec, "device", "auto"))
        return shared_backbone(name, self._backbone_size(None, spec), None, str(device))

    # -- the model ------------------------------------------------------------------------
    def input_shape(self, config) -> tuple[int, ...]:
        return (config.feature_dim,)

    def input_module(self, config):
        from semantic_hashing.retrieval.inputs import FeatureInput

        return FeatureInput(config)

    def check_config(self, config) -> None:
        from semantic_hashing.retrieval.backbones import BACKBONES

        name = (config.backbone or {}).get("name")
        if name not in BACKBONES:
            raise SemhashError(f"a features model needs a known backbone, not {name!r}.")
        if config.feature_dim != BACKBONES[name].dim:
            raise SemhashError(f"the {name} backbone gives {BACKBONES[name].dim} features, "
                               f"not {config.feature_dim}.")  # fmt: skip
        if config.corruption not in FEATURE_CORRUPTIONS:
            raise SemhashError(f"the {config.corruption} corruption moves pixels; a features "
                               f"model takes {', '.join(FEATURE_CORRUPTIONS)}.")  # fmt: skip

    def preset_inputs(self, channels: int = 1) -> str:
        return "features"

    def training_rows(self, loaded: Loaded, spec) -> Training:
        """Training on the stored rows; the model records the backbone's fingerprint and
        standardises the features by the training items' statistics."""
        backbone = self.backbone(None, spec)
        return self.training(loaded.items, backbone.fingerprint)

    def training(self, rows, fingerprint: dict) -> Training:
        """Training on stored rows made by the backbone of `fingerprint`."""
        import numpy as np

        dim = int(fingerprint["dim"])
        feats = unpack_features(rows, dim)
        mean = feats.mean(axis=0, dtype=np.float64)
        std = feats.std(axis=0, dtype=np.float64)
        std = np.maximum(std, 1e-3 * max(float(np.median(std)), 1e-6)).astype(np.float32)

        def standardise(model) -> None:
            import torch

            model.inputs.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            model.inputs.std.copy_(torch.as_tensor(std, dtype=torch.float32))

        fields = {"feature_dim": dim, "backbone": dict(fingerprint), "channels": 3,
                  "image_size": PIXELS}  # fmt: skip
        return Training(self.name, rows, fields, {}, standardise)

    def reencodes(self, stored_config: dict, config: dict) -> bool:
        """The stored features serve any model of the same backbone (name, input size,
        weights, pass size): `--rebuild` never runs the backbone again."""
        return _same_backbone(stored_config.get("backbone") or {}, config.get("backbone") or {})

    def stored_training(self, rows, config: dict) -> Training:
        """A new model on the stored features of a collection: no file is read."""
        return self.training(rows, _recorded_dict(config))

    def model_input(self, rows, store):
        import numpy as np

        rows = np.asarray(rows)
        width = row_width(store.encoder.config.feature_dim)
        return rows.reshape(len(rows), width)

    def inputs_from(self, rows, other, store):
        """Rows of another features collection: usable as they are when both were made by
        the same backbone (name, input size, weights)."""
        mine, theirs = (_recorded(c.encoder.config) for c in (store, other))
        keys = ("name", "input_size", "dim", "weights_sha256")
        if any(mine.get(k) != theirs.get(k) for k in keys):
            raise SemhashError(
                f"{other.path} was indexed through {_describe(theirs)} and {store.path} "
                f"through {_describe(mine)}; compare its folder with --query instead."
            )
        return self.model_input(rows, store)

    # -- queries --------------------------------------------------------------------------
    def typed_query(self, text, store):
        raise SemhashError(f"{store.path} is a photo collection; --text needs a text one.")

    # -- answers --------------------------------------------------------------------------
    def baseline(self, db_inputs, query_inputs, k: int, name: str = "raw"):
        """`raw`: Euclidean distance of the small pixels; `features`: 1 - the cosine of
        the backbone's float features."""
        import numpy as np

        from semantic_hashing.retrieval.kinds.image import raw_l2

        if db_inputs is None or not len(db_inputs):
            raise SemhashError("this collection keeps no stored inputs for the baseline.")
        dim = dim_of(db_inputs)
        if name == "features":
            index = derived(db_inputs, "cosine", lambda r: cosine_index(r, dim))
            q = unit_rows(unpack_features(np.asarray(query_inputs), dim))
            D, I = index.search(q, min(k, index.ntotal))
            return 1.0 - D, I.astype(np.int64)
        pixels = derived(db_inputs, "pixels", lambda r: unpack_pixels(r, dim).reshape(len(r), -1))
        return raw_l2(pixels, unpack_pixels(np.asarray(query_inputs), dim), k)

    def raw_features(self, db_inputs, query_inputs):
        """The small pixels in [0, 1], compared by Euclidean distance (the raw row)."""
        dim = dim_of(db_inputs)
        return super().raw_features(unpack_pixels(db_inputs, dim),
                                    unpack_pixels(query_inputs, dim))  # fmt: skip

    def pair_similarity(self, inputs_a, inputs_b, rows_a, rows_b):
        """The image kind's crop-tolerant correlation of the two items' stored small copies.

        Duplicates are the same picture, and the features say "the same kind of subject":
        on a near-duplicate set built from 2,000 CIFAR-10 training images (200 originals
        with 1-3 copies; candidates from the features codes at the default radius) the
        cosine of the features reached pairwise F1 0.763 at its best threshold (0.75), the
        correlation of the small copies 0.879 at the image kind's 0.94."""
        import numpy as np

        from semantic_hashing.retrieval.similarity import image_pairs

        dim = dim_of(inputs_a)
        ua, ia = np.unique(np.asarray(rows_a), return_inverse=True)
        ub, ib = np.unique(np.asarray(rows_b), return_inverse=True)
        pa = unpack_pixels(np.asarray(inputs_a)[ua], dim)
        pb = unpack_pixels(np.asarray(inputs_b)[ub], dim)
        return image_pairs(pa, pb, ia, ib)

    def candidate_codes(self, inputs):
        """A perceptual hash (`similarity.dct_hash`) of each item's stored small copy."""
        import numpy as np

        from semantic_hashing.retrieval.similarity import dct_hash

        inputs = np.asarray(inputs)
        return dct_hash(unpack_pixels(inputs, dim_of(inputs)))

    # -- showing --------------------------------------------------------------------------
    def thumbnail(self, row, size, stored):
        """The indexed file while it is a readable image, else the small copy kept."""
        from semantic_hashing.retrieval.images import from_input, thumbnail

        img = thumbnail(row["path"], size)
        if img is None:
            rows, encoder = stored()
            pixels = unpack_pixels(rows, encoder.config.feature_dim)[0]
            img = from_input(pixels, 3, PIXELS, size)
        return img

    def reconstruction(self, encoder, x, noisy, out_noisy, out_clean, top_words: int) -> dict:
        """Nothing to draw: the model reconstructs features, not pixels; the item's
        reconstruction error (its score) is what there is to show."""
        return {}

    def page_fields(self, model: dict) -> dict:
        fp = model.get("backbone") or {}
        return {"image_size": fp.get("input_size"), "channels": 3, "backbone": fp.get("name")}

    def check_sheet(self, what: str = "") -> None:
        if what == "reconstruction":
            raise SemhashError(
                "a features model reconstructs the backbone's features, which cannot be drawn "
                "as an image; without --sheet, reconstruct prints each item's reconstruction "
                "error."
            )


def load_photo(path, size: int, side: int):
    """One file as ((photo at size x size, its copy at side x side), info), both RGB uint8
    channels first: the image kind's reader, then a bilinear shrink of what it decoded."""
    import numpy as np
    from PIL import Image

    from semantic_hashing.retrieval.images import load_image

    big, info = load_image(path, size, 3)
    img = Image.fromarray(big.transpose(1, 2, 0))
    small = np.asarray(img.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0))
    return (big, np.ascontiguousarray(small.transpose(2, 0, 1))), info


def _joined(parts: list[Loaded], np) -> Loaded:
    if len(parts) == 1:
        return parts[0]
    items = [p.items for p in parts if len(p.paths)]
    return Loaded([x for p in parts for x in p.paths],
                  np.concatenate(items) if items else parts[0].items,
                  [m for p in parts for m in p.meta],
                  [s for p in parts for s in p.skipped])  # fmt: skip


def _recorded(config) -> dict:
    fp = config.backbone or {}
    if not fp:
        raise SemhashError("this model records no backbone: it is not a features model.")
    return fp


def _recorded_dict(config: dict) -> dict:
    fp = config.get("backbone") or {}
    if not fp:
        raise SemhashError("this model records no backbone: it is not a features model.")
    return fp


def _same_backbone(a: dict, b: dict) -> bool:
    keys = ("name", "input_size", "dim", "weights_sha256", "batch_size")
    return bool(a) and all(a.get(k) == b.get(k) for k in keys)


def _describe(fp: dict) -> str:
    return f"{fp.get('name')} at {fp.get('input_size')} px ({fp.get('weights_sha256')})"
