"""Showing outliers and reconstructions: text tables and PNG sheets (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from semantic_hashing.query.outliers import Outlier
from semantic_hashing.query.reconstruct import Reconstruction
from semantic_hashing.query.render import THUMB, _thumb, file_label, save_sheet
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable
from semantic_hashing.retrieval.kinds import get_kind

COLUMNS = (("input", "input"), ("corrupted", "corrupted"), ("reconstruction", "from corrupted"),
           ("clean_reconstruction", "from input"))  # fmt: skip


def outlier_table(outliers: list[Outlier]) -> str:
    labels = [printable(o.label) for o in outliers]
    width = max([5, *map(len, labels)])  # labels whole
    lines = [f"{'rank':>4}  {'id':>8}  {'score':>10}  {'label':<{width}}  path"]
    lines += [f"{o.rank:>4}  {o.id:>8}  {o.score:>10.3f}  {label:<{width}}  {printable(o.path)}"
              for o, label in zip(outliers, labels, strict=True)]  # fmt: skip
    return "\n".join(lines)


def outlier_sheet(outliers: list[Outlier], out: str | Path, per_row: int = 10) -> Path:
    """The outliers as thumbnails, worst first, each with its rank, score and file name;
    no outliers is a mistake (there is nothing to draw)."""
    if not outliers:
        raise SemhashError("there are no outliers to draw.")
    pad, text_h = 6, 26
    rows = max(1, -(-len(outliers) // per_row))
    cols = min(per_row, max(1, len(outliers)))
    cell_w, cell_h = THUMB + pad, THUMB + text_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for n, o in enumerate(outliers):
        x, y = pad + (n % per_row) * cell_w, pad + (n // per_row) * cell_h
        sheet.paste(_thumb(o.path), (x, y))
        draw.text((x, y + THUMB + 1), f"#{o.rank} {o.score:.1f}", fill=(0, 0, 0))
        draw.text((x, y + THUMB + 12), file_label(o.path), fill=(60, 60, 60))
    return save_sheet(sheet, out)


def _image(arr: np.ndarray, size: int = THUMB) -> Image.Image:
    """(C, S, S) floats in [0, 1] -> an RGB thumbnail (nearest neighbour: pixels stay sharp)."""
    data = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    img = Image.fromarray(data[0] if data.shape[0] == 1 else data.transpose(1, 2, 0))
    return img.convert("RGB").resize((size, size), Image.Resampling.NEAREST)


def reconstruction_sheet(recs: list[Reconstruction], out: str | Path) -> Path:
    """One row per item: input, corrupted copy, reconstruction from the corrupted copy,
    reconstruction from the input; the reconstruction error on the left."""
    if recs:
        get_kind(recs[0].kind).check_sheet("reconstruction")
    pad, head, label_w = 6, 16, 120
    cell = THUMB + pad
    sheet = Image.new("RGB", (label_w + len(COLUMNS) * cell + pad,
                              head + len(recs) * cell + pad), "white")  # fmt: skip
    draw = ImageDraw.Draw(sheet)
    for c, (_, title) in enumerate(COLUMNS):
        draw.text((label_w + c * cell, 2), title, fill=(0, 0, 0))
    for r, rec in enumerate(recs):
        y = head + r * cell
        draw.text((pad, y + 4), Path(rec.name).name[:18], fill=(0, 0, 0))
        draw.text((pad, y + 20), f"id {rec.id}" if rec.id is not None else "query", fill=(0, 0, 0))
        draw.text((pad, y + 36), f"error {rec.score:.1f}", fill=(200, 0, 0))
        for c, (attr, _) in enumerate(COLUMNS):
            sheet.paste(_image(getattr(rec, attr)), (label_w + c * cell, y))
    return save_sheet(sheet, out)


def words_table(recs: list[Reconstruction]) -> str:
    """Text: the document's top words against the reconstructed top words."""
    blocks = []
    for rec in recs:
        lines = [f"{printable(rec.name)}  (id {rec.id}, reconstruction error {rec.score:.3f})"]
        for key, title in COLUMNS:
            words = ", ".join(w for w, _ in rec.words.get(key, []))
            lines.append(f"  {title:>15}: {words}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
