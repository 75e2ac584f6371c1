"""Measures the shape of the code base: long files and functions, import circles, kind tests.

    python tools/house.py [ROOT]

Prints one line per figure; `tests/test_house.py` holds the rules these figures must keep.
Nothing is imported or run: every figure is read from the source with `ast`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

# Top-level folders of the checkout and the module name each holds once installed.
FOLDERS = {
    "semantic_hashing": "semantic_hashing",
    "retrieval": "semantic_hashing.retrieval",
    "indexer": "semantic_hashing.indexer",
    "query": "semantic_hashing.query",
    "bench": "semantic_hashing.bench",
}
# Before the one import name, the same folders were top-level packages of their own.
OLD_NAMES = {"semhash": "semantic_hashing", "retrieval": "semantic_hashing.retrieval",
             "indexer": "semantic_hashing.indexer", "query": "semantic_hashing.query"}  # fmt: skip
KIND_WORDS = {"image", "text", "features"}
LONG_FILE = 400


def modules(root: Path) -> dict[str, Path]:
    """Every product and bench module under `root`, by its installed dotted name."""
    found = {}
    for folder, name in FOLDERS.items():
        base = root / folder
        if folder == "semantic_hashing" and not base.is_dir():
            base, name = root / "semhash", "semantic_hashing"  # the layout before the move
        for path in sorted(base.rglob("*.py")) if base.is_dir() else ():
            parts = path.relative_to(base).with_suffix("").parts
            dotted = ".".join((name, *parts)).removesuffix(".__init__")
            found[dotted] = path
    return found


def _absolute(name: str) -> str:
    head = name.split(".")[0]
    if head in OLD_NAMES:
        return OLD_NAMES[head] + name[len(head) :]
    return name


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `module` imports, anywhere in the file (lazy imports count)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [_absolute(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            base = _absolute(base)
            subs = [f"{base}.{a.name}" for a in node.names]
            # `from pkg import module` needs the module; any other name needs pkg itself
            names = subs if all(s in known for s in subs) else [*subs, base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {m: imports(m, p, known) for m, p in known.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def functions(path: Path) -> Iterator[tuple[str, int]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node.end_lineno - node.lineno + 1


def kind_tests(path: Path) -> list[int]:
    """Lines that compare something with a kind's name ("image", "text", ...)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            values = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            if any(isinstance(v, ast.Constant) and v.value in KIND_WORDS for v in values):
                lines.append(node.lineno)
                break
    return lines


def is_bench(module: str) -> bool:
    last = module.split(".")
    return "bench" in last[:2] or any(p.startswith(("bench", "scale")) for p in last[1:])


def is_kind_module(module: str) -> bool:
    return ".kinds" in module or module.endswith(".sources")


def report(root: Path) -> dict:
    known = modules(root)
    edges = graph(root)
    lengths = {m: len(p.read_text().splitlines()) for m, p in known.items()}
    longest = max(((n, m, ln) for m, p in known.items() for n, ln in functions(p)),
                  key=lambda t: t[2])  # fmt: skip
    kinds = {m: kind_tests(p) for m, p in known.items() if not is_kind_module(m)}
    bench = {m for m in known if is_bench(m)}
    product = set(known) - bench
    return {
        "modules": len(known),
        "product_lines": sum(lengths[m] for m in product),
        "bench_lines": sum(lengths[m] for m in bench),
        "bench_lines_in_product_packages": sum(
            lengths[m] for m in bench if not m.startswith("semantic_hashing.bench")
        ),
        "files_over_400_lines": sorted(
            (f"{known[m].relative_to(root)} {n}" for m, n in lengths.items() if n > LONG_FILE)
        ),
        "longest_function": f"{longest[1]}.{longest[0]} ({longest[2]} lines)",
        "kind_tests_outside_kind_modules": sum(len(v) for v in kinds.values()),
        "files_with_kind_tests": sorted(m for m, v in kinds.items() if v),
        "import_circles": circles(edges),
        "product_modules_importing_bench": sorted(
            m for m in product if any(is_bench(t) for t in edges[m])
        ),
    }


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    for key, value in report(root).items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"    {item}")
        else:
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
