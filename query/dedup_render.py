"""Showing duplicate groups: one line per group, JSON lines, CSV, and a sheet (Pillow)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PIL import Image, ImageDraw

from semantic_hashing.query.dedup import DuplicateGroup
from semantic_hashing.query.render import THUMB, _thumb, file_label, save_sheet
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import printable


def _sim(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def as_lines(groups: list[DuplicateGroup]) -> str:
    """`keep ID PATH  <=  ID PATH (d=D, sim=S) ...`, one group per line."""
    out = []
    for g in groups:
        dups = "  ".join(
            f"{'' if d.id is None else d.id} {printable(d.path)} (d={d.distance}, "
            f"sim={_sim(d.similarity)}{', exact' if d.exact else ''})"
            for d in g.duplicates
        )
        out.append(f"keep {g.keep.id} {printable(g.keep.path)}  <=  {dups}")
    return "\n".join(out)


def as_json_lines(groups: list[DuplicateGroup]) -> str:
    return "\n".join(json.dumps(g.to_dict(), ensure_ascii=False) for g in groups)


def write_csv(groups: list[DuplicateGroup], out: str | Path) -> Path:
    """One row per item: group, role (keep / duplicate), id, path, distance, similarity."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["group", "role", "id", "path", "distance", "similarity", "exact"])
            for n, g in enumerate(groups):
                writer.writerow([n, "keep", g.keep.id, g.keep.path, 0, "", ""])
                for d in g.duplicates:
                    writer.writerow([n, "duplicate", d.id, d.path, d.distance,
                                     "" if d.similarity is None else d.similarity,
                                     int(d.exact)])  # fmt: skip
    except OSError as exc:
        raise SemhashError(f"cannot write {out} ({exc.strerror or exc}).") from None
    return out


def group_sheet(groups: list[DuplicateGroup], out: str | Path, per_row: int = 8,
                max_groups: int = 40) -> Path:  # fmt: skip
    """One row per group: the kept image (red frame), then its duplicates with distance and
    similarity; each labelled with its file name. At most `max_groups` rows; no groups is
    a mistake (there is nothing to draw)."""
    if not groups:
        raise SemhashError("there are no duplicate groups to draw.")
    pad, text_h = 6, 38
    shown = groups[:max_groups]
    cols = 1 + min(per_row, max((len(g.duplicates) for g in shown), default=0))
    cell_w, cell_h = THUMB + pad, THUMB + text_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad * 2, len(shown) * cell_h + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for row, g in enumerate(shown):
        y = pad + row * cell_h
        sheet.paste(_thumb(g.keep.path), (pad, y))
        draw.rectangle([pad - 2, y - 2, pad + THUMB + 1, y + THUMB + 1], outline=(200, 0, 0),
                       width=2)  # fmt: skip
        draw.text((pad, y + THUMB + 2), f"keep #{g.keep.id}", fill=(200, 0, 0))
        draw.text((pad, y + THUMB + 13), file_label(g.keep.path), fill=(60, 60, 60))
        for col, d in enumerate(g.duplicates[:per_row], 1):
            x = pad * 2 + col * cell_w
            sheet.paste(_thumb(d.path), (x, y))
            draw.text((x, y + THUMB + 2), f"d={d.distance} s={_sim(d.similarity)}", fill=(0, 0, 0))
            draw.text((x, y + THUMB + 13), file_label(d.path), fill=(60, 60, 60))
            if d.exact:
                draw.text((x, y + THUMB + 24), "exact", fill=(0, 0, 160))
    return save_sheet(sheet, out)
