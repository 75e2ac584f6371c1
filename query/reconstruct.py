"""What the collection's autoencoder makes of an item: its reconstruction and how far off
it is, the two things outliers (query/outliers.py) and `semhash reconstruct` show.

The reconstruction error of an item is the model's own training loss on it, per item,
without corruption: for images the Bernoulli cross-entropy of the pixels summed over the
image (`metric="loss"`) or the mean squared error of the pixels in [0, 1] (`"mse"`); for
text the IDF-weighted cross-entropy of the document's words under the decoder's word
distribution (the bag-of-words model's loss). Items unlike the rest of the collection are
reconstructed worst.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from semantic_hashing.indexer.store import Store
from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.errors import SemhashError, UnknownItem
from semantic_hashing.retrieval.heap import HeapWatch
from semantic_hashing.retrieval.progress import progress

METRICS = ("loss", "mse")


@torch.no_grad()
def reconstruction_errors(encoder: HashEncoder, inputs, metric: str = "loss",
                          batch_size: int = 1024, show: bool = True) -> np.ndarray:  # fmt: skip
    """Per-item reconstruction error of `inputs` (stored model inputs) under `encoder`."""
    if metric not in METRICS:
        raise SemhashError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    model = encoder.model.eval()
    out, heap = [], HeapWatch()  # else the heap can keep growing over the batches (heap.py)
    starts = range(0, inputs.shape[0], batch_size)
    for start in progress(starts, show, desc="reconstructing", unit="batch"):
        x = model.prepare(inputs[start : start + batch_size])
        _, recon = model(x)
        out.append(model.inputs.item_error(recon, x, metric).float().cpu().numpy())
        heap.tick()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def stored_inputs(store: Store, ids) -> object:
    """Stored model inputs of `ids`, shaped for the model (images (N, C, S, S))."""
    from semantic_hashing.query.dedup import model_inputs

    ids = np.asarray(ids, dtype=np.int64)
    if not len(ids):
        raise SemhashError(f"{store.path} holds no items.")
    stored = set(store.raw.ids().tolist())
    missing = [int(i) for i in ids if int(i) not in stored]
    if missing:
        raise SemhashError(
            f"{store.path} keeps no stored input for {len(missing)} items (first: id "
            f"{missing[0]}); run `semhash check --repair` and `semhash index` again."
        )
    return model_inputs(store, store.inputs(ids))


def item_score(store: Store, item_id: int, metric: str = "loss") -> float:
    """The reconstruction error of one stored item (its outlier score)."""
    if item_id not in store.meta.get([item_id]):
        raise UnknownItem(f"id {item_id} is not in {store.path}.")
    inputs = stored_inputs(store, [item_id])
    return float(reconstruction_errors(store.encoder, inputs, metric, show=False)[0])


@dataclass
class Reconstruction:
    """One item through the model: its input, a corrupted copy (the model's own training
    corruption) and the reconstructions of both. Images: float arrays (C, S, S) in [0, 1];
    text: the top words with their weights."""

    name: str
    id: int | None
    score: float  # reconstruction error of the clean input
    kind: str
    input: object = None
    corrupted: object = None
    reconstruction: object = None  # from the corrupted copy (the denoising view)
    clean_reconstruction: object = None  # from the input itself
    words: dict = field(default_factory=dict)  # text: lists of (word, weight)

    def to_dict(self) -> dict:
        out = {"name": self.name, "id": self.id, "score": round(self.score, 4)}
        if self.words:
            out["words"] = {k: [[w, round(v, 4)] for w, v in ws] for k, ws in self.words.items()}
        return out


@torch.no_grad()
def reconstruct(store: Store, inputs, names: list[str], ids: list[int | None],
                seed: int = 0, top_words: int = 12) -> list[Reconstruction]:  # fmt: skip
    """Input, corrupted copy and reconstructions of each item of `inputs`."""
    model = store.encoder.model.eval()
    scores = reconstruction_errors(store.encoder, inputs, show=False)
    x = model.prepare(inputs)
    torch.manual_seed(seed)
    noisy = model.corrupt(x)
    recon_noisy, recon = model(noisy)[1], model(x)[1]
    kind = store.input_kind
    return [Reconstruction(name, item_id, float(scores[j]), store.kind,
                           **kind.reconstruction(store.encoder, x[j], noisy[j], recon_noisy[j],
                                                 recon[j], top_words))
            for j, (name, item_id) in enumerate(zip(names, ids, strict=True))]  # fmt: skip
