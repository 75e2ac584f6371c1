"""`semhash bench --task indexing`: how fast a folder of large photos is indexed.

Generated photo sets (6 MP and 24 MP JPEG, 6 MP PNG, 6 MP HEIC when pillow-heif is
installed, see `bench_photos`) are indexed end to end with one tiny model trained once,
each run in a fresh process that reports its peak memory (VmHWM) and the pipeline's
wall-time split. "net" photos/s leave out start-up: the same process indexes the folder a
second time (nothing new: open, list, plan) and that time is subtracted; "per CPU-s"
divides by the process's CPU time instead (all threads), a figure that load from other
work on the machine changes less than wall time. The 6 MP set is
also indexed with twice the files, to show that memory does not grow with the folder.
With `features` (a backbone's name) the model is a tiny features model, so every photo also
goes through the backbone, and the backbone's own images/s are timed at each input size.
With `baseline_code` (a checkout of older code) every set is indexed by that code too,
in the same session, for a before/after ratio. The reader pool (threads against
processes) is measured on its own.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from semantic_hashing.bench.photos import (
    SETS,
    doubled,
    heif_available,
    make_photo_folder,
    training_images,
)
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.pool import cores

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter whose imports come from the code root given first.
CHILD = r"""
import json, logging, resource, sys, time
from pathlib import Path
root, folder, coll, model, workers, chunk = sys.argv[1:7]
sys.path.insert(0, root)
logging.basicConfig(level=logging.ERROR)
from semantic_hashing.indexer import pipeline
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.progress import set_progress
set_progress(False)
opts = pipeline.IndexOptions(model_path=Path(model), chunk_size=int(chunk))
if hasattr(opts, "workers"):
    opts.workers = int(workers)
def peak_mb():  # this process's own high-water mark (ru_maxrss would count the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
def cpu_s():  # user + system seconds of every thread of this process
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
out = {"code": pipeline.__file__}
try:
    c, t = cpu_s(), time.perf_counter(); report = pipeline.index_folder(folder, coll, opts)
    wall, cpu = time.perf_counter() - t, cpu_s() - c
    c = cpu_s()
    t = time.perf_counter(); again = pipeline.index_folder(folder, coll, opts)
    out.update(added=report.added, skipped=len(report.skipped), wall_s=wall,
               noop_s=time.perf_counter() - t, timings=report.timings, again_added=again.added,
               cpu_s=cpu, noop_cpu_s=cpu_s() - c)
except SemhashError as exc:
    out["error"] = str(exc)
out["peak_mb"] = peak_mb()
print(json.dumps(out))
"""


@dataclass
class IndexingBenchOptions:
    out: Path = Path("report/indexing")
    photos: int = 300  # files in the 6 MP JPEG set; the others take a share of it
    seed: int = 0
    sets: tuple[str, ...] = tuple(SETS)
    baseline_code: Path | None = None  # e.g. a `git archive` of main before the change
    train_images: int = 2000  # the tiny model is trained once on this many small renders
    chunk_size: int = 4096  # the index default; the encoder's batches are 1024 at most
    workers: tuple[int, ...] = field(default_factory=lambda: tuple(sorted({1, cores()})))
    features: str = "pixels"  # or a backbone: the photos are indexed through it
    input_size: int = 0  # the side the backbone sees (0: the features kind's default)
    backbone_sizes: tuple[int, ...] = (224, 160, 128, 96)  # the backbone alone, timed
    backbone_images: int = 96  # images timed at each size


def run_indexing_bench(opts: IndexingBenchOptions) -> dict:
    """Make the photo sets and the model (once), index each set, write the report."""
    if opts.photos < 10:
        raise SemhashError("--photos must be at least 10.")
    if opts.baseline_code is not None and not (Path(opts.baseline_code) / "indexer").is_dir():
        raise SemhashError(f"{opts.baseline_code} is not a semhash code checkout.")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    if opts.features == "pixels":
        model = _model(out / "model.pt", opts.seed, opts.train_images)
    else:
        name = f"model-{opts.features}-{opts.input_size or 'default'}.pt"
        model = _features_model(out / name, opts)
    folders = _folders(out / "photos", opts)
    runs = []
    codes = [("after", HERE)] + (
        [("before", Path(opts.baseline_code))] if opts.baseline_code else []
    )
    for name, folder in folders.items():
        for label, root in codes:
            for workers in opts.workers if label == "after" else (0,):
                runs.append(_run(root, label, name, folder, model, workers, out, opts))
    pool = reader_pools(folders["jpeg-6mp"]) if "jpeg-6mp" in folders else {}
    options = {k: str(v) for k, v in asdict(opts).items()}
    alone = backbone_speed(opts) if opts.features != "pixels" else {}
    report = {"machine": {"cores": cores(), "load_avg": os.getloadavg()}, "runs": runs,
              "reader_pool": pool, "backbone_alone": alone, "options": options}  # fmt: skip
    (out / "indexing-report.json").write_text(json.dumps(report, indent=1))
    (out / "indexing-table.md").write_text(as_table(report) + "\n")
    return report


def _model(path: Path, seed: int, n: int) -> Path:
    if path.exists():
        return path
    from semantic_hashing.retrieval.fitting import TrainSpec, train_image_encoder
    from semantic_hashing.retrieval.training import TrainConfig

    spec = TrainSpec(train=TrainConfig(epochs=2, seed=seed))
    encoder, info = train_image_encoder(training_images(n, seed), spec)
    encoder.save(path, info)
    return path


def _features_model(path: Path, opts: IndexingBenchOptions) -> Path:
    """A tiny features model (the default family, 64 bits, 2 epochs) trained once on the
    backbone's features of small renders: the runs then measure reading, the backbone and
    writing, not training."""
    if path.exists():
        return path
    from semantic_hashing.bench.features import small_pixels
    from semantic_hashing.retrieval.extraction import extract as run_backbone
    from semantic_hashing.retrieval.extraction import shared_backbone
    from semantic_hashing.retrieval.fitting import TrainSpec, fit
    from semantic_hashing.retrieval.kinds import get_kind
    from semantic_hashing.retrieval.kinds.choice import resolve
    from semantic_hashing.retrieval.kinds.feature_rows import pack
    from semantic_hashing.retrieval.training import TrainConfig

    kind, name = resolve("image", opts.features)
    images = training_images(min(opts.train_images, 256), opts.seed)
    spec = TrainSpec(bits=64, image_size=opts.input_size, train=TrainConfig(epochs=2,
                     seed=opts.seed))  # fmt: skip
    backbone = get_kind(kind).backbone(None, spec)
    backbone = shared_backbone(name, backbone.input_size, None, "cpu")
    rows = pack(run_backbone(backbone, images), small_pixels(images))
    encoder, info = fit(get_kind(kind).training(rows, backbone.fingerprint), spec)
    encoder.save(path, info)
    return path


def backbone_speed(opts: IndexingBenchOptions) -> dict:
    """Images per second of the backbone alone (already decoded, in passes of its batch
    size, on every core) at each input size, after one warm-up pass."""
    import numpy as np

    from semantic_hashing.retrieval.extraction import extract as run_backbone
    from semantic_hashing.retrieval.extraction import shared_backbone

    rng = np.random.default_rng(opts.seed)
    out = {}
    for size in opts.backbone_sizes:
        backbone = shared_backbone(opts.features, size, None, "cpu")
        images = rng.integers(0, 256, (opts.backbone_images, 3, size, size), dtype=np.uint8)
        run_backbone(backbone, images[: backbone.batch_size])  # warm-up: kernels chosen
        start = time.perf_counter()
        run_backbone(backbone, images)
        out[str(size)] = len(images) / (time.perf_counter() - start)
        log.info("backbone alone at %d px: %.1f images/s", size, out[str(size)])
    return out


def _folders(root: Path, opts: IndexingBenchOptions) -> dict[str, Path]:
    folders = {}
    for name in opts.sets:
        spec = SETS[name]
        if spec.format == "HEIF" and not heif_available():
            log.warning("no pillow-heif: the HEIC set is left out (pip install '.[heif]')")
            continue
        n = max(10, round(opts.photos * spec.share))
        folders[f"{name} x{n}"] = make_photo_folder(root / f"{name}-{n}", spec, n, opts.seed)
        if name == "jpeg-6mp":
            folders["jpeg-6mp"] = folders.pop(f"{name} x{n}")
            two = doubled(folders["jpeg-6mp"], root / f"{name}-{2 * n}", spec, n, opts.seed)
            folders[f"{name} x{2 * n}"] = two
    return folders


def _run(root, label: str, name: str, folder: Path, model: Path, workers: int, out: Path, opts):
    coll = out / "collections" / f"{label}-{name.replace(' ', '')}-w{workers}.semhash"
    subprocess.run(["rm", "-rf", str(coll)], check=True)
    env = {**os.environ, "PYTHONPATH": str(root)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(folder), str(coll),
                           str(model), str(workers), str(opts.chunk_size)], capture_output=True,
                          text=True, env=env,
                          cwd=out)  # fmt: skip
    if proc.returncode != 0:
        raise SemhashError(f"the {label} run on {name} failed: {proc.stderr.strip()[-500:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    got.update(set=name, label=label, workers=workers, process_s=time.perf_counter() - start)
    if "error" in got:
        log.info("%s %s: %s", label, name, got["error"])
    else:
        n = got["added"]
        got["photos_per_s_net"] = n / max(1e-9, got["wall_s"] - got["noop_s"])
        got["photos_per_s_end_to_end"] = n / got["process_s"]
        got["photos_per_cpu_s_net"] = n / max(1e-9, got["cpu_s"] - got["noop_cpu_s"])
        log.info("%s %s w%s: %.1f photos/s net, %.0f MB", label, name, workers,
                 got["photos_per_s_net"], got["peak_mb"])  # fmt: skip
    subprocess.run(["rm", "-rf", str(coll)], check=True)
    return got


def reader_pools(folder: Path, limit: int = 300) -> dict:
    """Decode throughput of the reader alone: one worker, threads, processes (all cores)."""
    from functools import partial

    from semantic_hashing.retrieval.images import UnreadableImage, list_images, load_image
    from semantic_hashing.retrieval.pool import read_in_order

    paths = list_images(folder)[:limit]
    read = partial(load_image, size=32, channels=3)
    result = {}
    for label, workers, pool in [("1 worker", 1, "thread"), ("threads", cores(), "thread"),
                                 ("processes", cores(), "process")]:  # fmt: skip
        start = time.perf_counter()
        list(read_in_order(read, paths, UnreadableImage, workers, pool=pool))
        result[f"{label} ({workers})"] = len(paths) / (time.perf_counter() - start)
    return result


def as_table(report: dict) -> str:
    rows = ["| code | set | workers | photos/s net | photos/s end to end | photos per CPU-s net "
            "| list s | read wait s | encode s | write s | other s | peak memory MB |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in report["runs"]:
        if "error" in r:
            rows.append(f"| {r['label']} | {r['set']} | | {r['error']} ||||||||| ")
            continue
        t = r["timings"]
        other = r["wall_s"] - sum(t.get(k, 0.0) for k in ("list", "read", "encode", "write"))
        workers = r["workers"] or "4 threads, fixed"
        rows.append(
            f"| {r['label']} | {r['set']} | {workers} | {r['photos_per_s_net']:.1f} | "
            f"{r['photos_per_s_end_to_end']:.1f} | {r['photos_per_cpu_s_net']:.1f} | "
            f"{t.get('list', 0):.2f} | {t.get('read', 0):.2f}"
            f" | {t.get('encode', 0):.2f} | {t.get('write', 0):.2f} | {other:.2f} | "
            f"{r['peak_mb']:.0f} |"
        )
    if report.get("backbone_alone"):
        rows.append("\nbackbone alone (decoded images, every core): " + ", ".join(
            f"{k} px {v:.1f} images/s" for k, v in report["backbone_alone"].items()))  # fmt: skip
    if report.get("reader_pool"):
        rows.append("\nreader alone, 6 MP JPEG: " + ", ".join(
            f"{k} {v:.1f} photos/s" for k, v in report["reader_pool"].items()))  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in report["machine"]["load_avg"])
    rows.append(f"{report['machine']['cores']} cores, load average at the end {load}")
    return "\n".join(rows)
