"""Switching a collection to another model: training settings that do not apply are
refused, and a model that reads the stored inputs as they are encodes them again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from semantic_hashing.indexer import repair
from semantic_hashing.indexer.layout import INDEX
from semantic_hashing.retrieval.errors import SemhashError

if TYPE_CHECKING:
    from semantic_hashing.indexer.store import Store
    from semantic_hashing.retrieval.codes import HashEncoder


def replace_model(coll: Store, encoder: HashEncoder) -> None:
    """Start over with another model in place (codes kept outside the folder). Where it
    takes the stored inputs as they are (the kind's `reencodes`: a features model over the
    same backbone), every item is encoded again from them and no file is read; otherwise
    each file is read again on this run. A run killed in between leaves rows marked to read
    again: the next run does so."""
    reuse = coll.input_kind.reencodes(coll.model_config, encoder.config.to_dict())
    kept = coll.meta.live() if reuse else {}  # read before the rows are marked
    coll.replace_model(encoder)  # empty index, every row marked to encode again
    encode_stored(coll, kept)


def encode_stored(coll: Store, kept: dict) -> None:
    """Encode the rows `kept` (`meta.live()` as it was before a new model marked every row
    to encode again) from their stored inputs; rows without one stay marked, to be read
    again from their files."""
    if not kept:
        return
    restored, unstored = repair.restore_codes(coll, [row[0] for row in kept.values()])
    coll.index.save(coll.path / INDEX)
    gone = set(unstored)
    rows = [{"id": i, "sha256": sha, "size": size, "mtime": mtime}
            for i, sha, size, mtime in kept.values() if i not in gone]  # fmt: skip
    coll.meta.commit(changed=rows)
    coll.log_event(f"re-encoded {restored} items from their stored inputs with the new model")


def refuse_unused_settings(opts, encoder: HashEncoder, where) -> None:
    """Training settings are refused, never ignored, when no model is trained: the model
    in use (the collection's or --model) decides them."""
    spec, cfg = opts.spec, encoder.config
    for name in opts.given:
        if name == "bits" and spec.bits == encoder.bits:
            continue
        if name == "model_type" and spec.model_type in ("", cfg.model_type):
            continue
        have = {"bits": f"{encoder.bits}-bit codes", "model_type": f"a {cfg.model_type} model"}
        flag = "--" + name.replace("_", "-")
        made = f" ({have[name]})" if name in have else ""
        raise SemhashError(f"{flag} is a training setting, but {where} is encoded with an existing "
                           f"model{made}: leave {flag} out, or train a new model (`semhash train`) "
                           "and switch with `index --model NEW --rebuild`.")  # fmt: skip
