"""Benchmark plots with matplotlib's object API (no pyplot state, no display needed)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def _style(row: dict) -> dict:
    return {"linestyle": "--", "color": "black"} if row["bits"] is None else {}


def plot_pr_curves(rows: list[dict], out: Path) -> list[Path]:
    """One PNG per code length: precision-recall and recall@k of every method at that
    length; methods without a code length (raw) are drawn dashed on each."""
    fixed = [r for r in rows if r["bits"] is None]
    paths = []
    for bits in sorted({r["bits"] for r in rows if r["bits"] is not None}):
        fig = Figure(figsize=(11, 4.5), layout="constrained")
        pr, rk = fig.subplots(1, 2)
        for row in [r for r in rows if r["bits"] == bits] + fixed:
            c = row["curve"]
            pr.plot(c["recall"], c["precision"], label=row["method"], **_style(row))
            rk.plot(c["k"], c["recall"], label=row["method"], **_style(row))
        pr.set(xlabel="recall", ylabel="precision", title=f"precision-recall, {bits} bits",
               xlim=(0, 1), ylim=(0, 1))  # fmt: skip
        rk.set(xlabel="k (returned items)", ylabel="recall", xscale="log",
               title=f"recall@k, {bits} bits", ylim=(0, 1))  # fmt: skip
        for ax in (pr, rk):
            ax.grid(alpha=0.3)
        pr.legend(fontsize=8)
        path = out / f"pr-{bits}bits.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
    return paths


def plot_p100_vs_bits(rows: list[dict], path: Path) -> Path:
    """P@100 against code length, one line per method; raw as a dashed level."""
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    bits = sorted({r["bits"] for r in rows if r["bits"] is not None})
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["bits"] or 0)
        if mine[0]["bits"] is None:
            ax.axhline(mine[0]["p@100"], label=method, **_style(mine[0]))
        else:
            ax.plot([r["bits"] for r in mine], [r["p@100"] for r in mine], "o-", label=method)
    ax.set(xlabel="bits", ylabel="P@100", title="P@100 versus code length")
    ax.set_xscale("log", base=2)
    if bits:
        ax.set_xticks(bits, [str(b) for b in bits])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    return path
