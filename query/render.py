"""Showing results: a plain text table, JSON lines, and a contact sheet (Pillow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from semantic_hashing.query.search import QueryResult
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fsutil import check_writable, printable

THUMB = 96


def as_json_lines(results: list[QueryResult]) -> str:
    """One JSON object per query on its own line: {"query": ..., "results": [...]}."""
    return "\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in results)


def as_json_lines_beside(codes: list[QueryResult], raw: list[QueryResult]) -> str:
    """One JSON object per query: the codes' results, their method, and the raw baseline's
    answer beside them under "baseline"."""
    return "\n".join(
        json.dumps({**c.to_dict(), "method": c.method,
                    "baseline": {"method": r.method, "results": r.to_dict()["results"]}},
                   ensure_ascii=False)
        for c, r in zip(codes, raw, strict=True)
    )  # fmt: skip


def as_table(results: list[QueryResult], root: str | None = None) -> str:
    """A readable table per query; paths are shown relative to `root` when possible.
    Labels are shown whole (the column is as wide as the longest)."""
    blocks = []
    for res in results:
        lines = [f"query: {printable(res.query)}  ({res.method}, {len(res.results)} results)"]
        has_title = any(h.title and h.title != Path(h.path).name for h in res.results)
        width = max([5, *(len(printable(h.label)) for h in res.results)])
        header = f"{'rank':>4}  {'id':>8}  {'distance':>9}  {'label':<{width}}  path"
        lines.append(header + ("  title" if has_title else ""))
        for rank, hit in enumerate(res.results, 1):
            path = _short(hit.path, root)
            label = printable(hit.label)
            line = f"{rank:>4}  {hit.id:>8}  {hit.distance:>9}  {label:<{width}}  {path}"
            lines.append(line + (f"  {printable(hit.title[:60])}" if has_title else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def beside_table(codes: list[QueryResult], raw: list[QueryResult]) -> str:
    """Each query's results by the codes and by the raw baseline side by side, rank by
    rank (as the web page shows them); paths below the folder all results share. A hit
    found by both is marked `=` on the baseline's side."""
    blocks = []
    for c, r in zip(codes, raw, strict=True):
        paths = [h.path for h in c.results + r.results]
        root = _common_folder(paths)
        left = [_cells(h, root) for h in c.results]
        right = [_cells(h, root) for h in r.results]
        widths = [max([len(x[i]) for x in left + right] + [len(t)])
                  for i, t in enumerate(("id", "distance", "label", "path"))]  # fmt: skip

        def side(cells, w=widths):
            return f"{cells[0]:>{w[0]}}  {cells[1]:>{w[1]}}  {cells[2]:<{w[2]}}  {cells[3]:<{w[3]}}"

        span = len(side(("", "", "", "")))
        below = f"  (paths below {printable(root)})" if root else ""
        lines = [f"query: {printable(c.query)}" + below,
                 f"{'':>4}  {c.method + ' (codes)':<{span}}  |  {r.method} (baseline)",
                 f"{'rank':>4}  {side(('id', 'distance', 'label', 'path'))}  |  "
                 f"{side(('id', 'distance', 'label', 'path'))}".rstrip()]  # fmt: skip
        found = {h.id for h in c.results}
        for rank in range(max(len(left), len(right))):
            a = side(left[rank]) if rank < len(left) else " " * span
            b = side(right[rank]) if rank < len(right) else ""
            same = "=" if rank < len(right) and r.results[rank].id in found else "|"
            lines.append(f"{rank + 1:>4}  {a}  {same}  {b}".rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _cells(hit, root: str | None) -> tuple[str, str, str, str]:
    return (str(hit.id), str(hit.distance), printable(hit.label), _short(hit.path, root))


def _common_folder(paths: list[str]) -> str | None:
    try:
        common = os.path.commonpath(paths) if paths else ""
    except ValueError:
        return None
    if not common or common == os.sep:
        return None
    return common if not os.path.isfile(common) else os.path.dirname(common)


def _short(path: str, root: str | None) -> str:
    if root:
        try:
            return printable(os.path.relpath(path, root))
        except ValueError:
            pass
    return printable(path)


def file_label(path: str, width: int = THUMB) -> str:
    """A file's name cut to fit under a thumbnail of `width` pixels (Pillow's default font
    is about 6 pixels a character): the start and the end (suffix) are kept."""
    name = Path(path).name
    fits = max(6, width // 6)
    return name if len(name) <= fits else name[: fits - 6] + "…" + name[-5:]


def _thumb(path: str, size: int = THUMB) -> Image.Image:
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            return ImageOps.pad(img, (size, size), color=(255, 255, 255))
    except (OSError, ValueError):
        return Image.new("RGB", (size, size), (200, 200, 200))


def check_sheet(out: str | Path) -> None:
    """Refuse a contact-sheet path Pillow cannot write, before any search is done."""
    out = Path(out)
    if out.is_dir():
        raise SemhashError(f"--sheet {out} is a folder; give a file name such as sheet.png.")
    formats = Image.registered_extensions()
    if formats.get(out.suffix.lower()) not in Image.SAVE:
        raise SemhashError(f"--sheet {out} needs an image extension such as .png or .jpg.")
    check_writable(out, "--sheet")


def contact_sheet(results: list[QueryResult], out: str | Path, per_row: int = 10) -> Path:
    """Draw one row per query: the query image, then its neighbours with their distances."""
    pad, text_h = 6, 14
    cols = 1 + min(per_row, max((len(r.results) for r in results), default=0))
    cell_w, cell_h = THUMB + pad, THUMB + text_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad * 2, len(results) * cell_h + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for row, res in enumerate(results):
        y = pad + row * cell_h
        sheet.paste(_thumb(res.query), (pad, y))
        draw.text((pad, y + THUMB + 1), "query", fill=(200, 0, 0))
        draw.line(
            [(cell_w + pad // 2, y), (cell_w + pad // 2, y + THUMB)], fill=(200, 0, 0), width=2
        )
        for col, hit in enumerate(res.results[:per_row], 1):
            x = pad * 2 + col * cell_w
            sheet.paste(_thumb(hit.path), (x, y))
            draw.text((x, y + THUMB + 1), f"d={hit.distance} {hit.label[:9]}", fill=(0, 0, 0))
    return save_sheet(sheet, out)


def save_sheet(img: Image.Image, out: str | Path) -> Path:
    """Write a sheet (its folders made as needed); a write that fails is one sentence."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        img.save(out)
    except OSError as exc:
        raise SemhashError(f"cannot write {out} ({exc.strerror or exc}).") from None
    return out
