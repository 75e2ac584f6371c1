"""A reviewed selection: the duplicate groups or outliers someone checked on the web page,
saved as a JSON file that `semhash dedup --selection` and `semhash outliers --selection`
act on, and on nothing else.

    {"semhash_selection": 1, "job": "dedup", "collection": "photos",
     "model_fingerprint": "cadfbdbef8489bcd",
     "groups": [{"keep": 3, "duplicates": [17, 40]}],
     "sha256": {"3": "9f86...", "17": "...", "40": "..."}}

    {"semhash_selection": 1, "job": "outliers", "model_fingerprint": "...",
     "items": [512, 77], "sha256": {...}}

The file is checked before anything is done: it must belong to this collection (the same
model fingerprint), name each live item once, and, where it records an item's sha256, that
item's file must not have changed since it was reviewed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from semantic_hashing.indexer.store import Store
from semantic_hashing.query.dedup import DuplicateGroup, Member
from semantic_hashing.query.outliers import Outlier
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.params import MAX_ID

VERSION = 1
JOBS = ("dedup", "outliers")
MAX_BYTES = 16 * 1024 * 1024


def read_selection(path: str | Path, job: str) -> dict:
    """The selection in `path` for `job` (dedup or outliers), its shape checked."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SemhashError(f"{path} is larger than {MAX_BYTES // 2**20} MB; not a selection.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SemhashError(f"cannot read the selection {path} ({exc.strerror or exc}).") from None
    except (ValueError, UnicodeDecodeError):
        raise SemhashError(f"{path} is not a JSON file.") from None
    if not isinstance(data, dict) or data.get("semhash_selection") != VERSION:
        raise SemhashError(f"{path} is not a semhash selection (saved from the web page).")
    if data.get("job") != job:
        raise SemhashError(f"{path} is a selection for `semhash {data.get('job')}`, not for "
                           f"`semhash {job}`.")  # fmt: skip
    if not isinstance(data.get("model_fingerprint"), str):
        raise SemhashError(f"{path} does not say which collection it was made on.")
    sha = data.get("sha256", {})
    if not isinstance(sha, dict) or not all(isinstance(v, str) for v in sha.values()):
        raise SemhashError(f"{path}: sha256 must map ids to hex digests.")
    if job == "dedup":
        groups = data.get("groups")
        if not isinstance(groups, list) or not groups:
            raise SemhashError(f"{path} selects no duplicate group.")
        for g in groups:
            if not (isinstance(g, dict) and _is_id(g.get("keep"))
                    and isinstance(g.get("duplicates"), list) and g["duplicates"]
                    and all(_is_id(i) for i in g["duplicates"])):  # fmt: skip
                raise SemhashError(f"{path}: each group needs a kept id and a non-empty list "
                                   "of duplicate ids.")  # fmt: skip
        ids = [i for g in groups for i in (g["keep"], *g["duplicates"])]
    else:
        ids = data.get("items")
        if not isinstance(ids, list) or not ids or not all(_is_id(i) for i in ids):
            raise SemhashError(f"{path} must list the selected items as ids.")
    seen: set[int] = set()
    for i in ids:
        if i in seen:
            raise SemhashError(f"{path} names id {i} twice.")
        seen.add(i)
    return data


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _check_items(store: Store, data: dict, ids: list[int], path) -> dict:
    """Rows of `ids`, refused when the selection is another collection's or stale."""
    fingerprint = store.info.get("model_fingerprint")
    if data["model_fingerprint"] != fingerprint:
        made = data["model_fingerprint"]
        raise SemhashError(f"{path} was made on a collection with another model ({made}); "
                           f"{store.path} has {fingerprint}.")  # fmt: skip
    rows = store.meta.get(ids)
    gone = [i for i in ids if i not in rows]
    if gone:
        raise SemhashError(f"id {gone[0]} of {path} is no longer in {store.path}; review the "
                           "selection again.")  # fmt: skip
    for key, digest in data.get("sha256", {}).items():
        row = rows.get(int(key)) if str(key).isdigit() else None
        if row is not None and digest and row.sha256 and row.sha256 != digest:
            raise SemhashError(f"{row.path} (id {key}) changed since the selection was made; "
                               "review it again.")  # fmt: skip
    return rows


def selected_groups(store: Store, data: dict, path="the selection") -> list[DuplicateGroup]:
    """The groups of a dedup selection, each member with its Hamming distance and input
    similarity to the kept item, as `semhash dedup` reports them."""
    from semantic_hashing.query.dedup import model_inputs
    from semantic_hashing.retrieval.codes import hamming

    ids = [i for g in data["groups"] for i in (g["keep"], *g["duplicates"])]
    rows = _check_items(store, data, ids, path)
    codes = np.asarray(store.index.codes_of(ids))
    at = {i: n for n, i in enumerate(ids)}
    try:  # similarities need the stored inputs; without them, distances only
        inputs = model_inputs(store, store.inputs(ids))
    except SemhashError:
        inputs = None
    if inputs is not None and store.input_kind.candidate_bits:  # distances as dedup's
        codes = store.input_kind.candidate_codes(inputs)

    def member(i, kept, d=0, s=None):
        row = rows[i]
        same = bool(row.sha256) and row.sha256 == rows[kept].sha256
        return Member(i, row.path, int(d), None if s is None else round(float(s), 4), same,
                      row.label)  # fmt: skip

    out = []
    for g in data["groups"]:
        k, dups = at[g["keep"]], [at[d] for d in g["duplicates"]]
        dist = hamming(codes[[k]], codes[dups])[0]
        sims = (store.input_kind.similarity(inputs, inputs, np.full(len(dups), k), dups)
                if inputs is not None else [None] * len(dups))  # fmt: skip
        keep = member(g["keep"], g["keep"], 0, 1.0 if inputs is not None else None)
        out.append(DuplicateGroup(keep, [member(i, g["keep"], dist[j], sims[j])
                                         for j, i in enumerate(g["duplicates"])]))  # fmt: skip
    return out


def selected_outliers(store: Store, data: dict, path="the selection") -> list[Outlier]:
    """The items of an outliers selection in its order, each with its outlier score."""
    from semantic_hashing.query.reconstruct import reconstruction_errors, stored_inputs

    ids = list(data["items"])
    rows = _check_items(store, data, ids, path)
    scores = reconstruction_errors(store.encoder, stored_inputs(store, ids), show=False)
    return [Outlier(n, i, rows[i].path, round(float(s), 4), rows[i].label)
            for n, (i, s) in enumerate(zip(ids, scores, strict=True), 1)]  # fmt: skip
