# One task runner. `make demo` and `make test` work on a fresh machine: the first run
# creates .venv and installs the project (about a minute when torch is on local disk).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: demo test docs check-install test-slow bench bench-jobs bench-scale bench-serve bench-million lint format data postgres browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,milvus,heif,features]'
	touch $(STAMP)

# Debian's Fashion-MNIST package, installed when missing and the machine allows it.
data:
	@if [ ! -f $(FMNIST) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's dataset-fashion-mnist"; \
	    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	      || echo "warning: could not install dataset-fashion-mnist; semhash will try a download"; \
	  else echo "note: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"; fi; \
	fi

# Debian's PostgreSQL server binaries, for the throwaway server of tests/test_postgres.py.
postgres:
	@if ! command -v pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's postgresql (server binaries for the tests)"; \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the PostgreSQL tests cannot run"; \
	  else echo "note: PostgreSQL is not installed (apt-get install postgresql); its tests skip"; fi; \
	fi

# Debian's Chromium and its WebDriver, for the browser test of `semhash serve`
# (tests/test_serve_browser.py).
browser:
	@if ! command -v chromium >/dev/null || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and chromium-driver (for the browser test)"; \
	    (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the browser test cannot run"; \
	  else echo "note: Chromium is not installed (apt-get install chromium chromium-driver); the browser test skips"; fi; \
	fi

demo: $(STAMP) data
	$(BIN)/semhash demo

# Test files spread over TEST_WORKERS processes (pytest-xdist), each file whole on one of them
# (module fixtures are built once): most tests wait on a process of the installed command, so
# two workers keep two cores busy.
TEST_WORKERS ?= 2
test: $(STAMP) data postgres browser docs
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The documentation site (mkdocs.yml, docs/) into the git-ignored site/; --strict makes a
# broken link, a missing anchor or a page left out of the navigation an error (not with
# --quiet, which hides the warnings --strict counts).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test-slow: $(STAMP) data
	$(BIN)/python -m pytest -q -m slow

# Every method on each data set at each code length, into report/<dataset>/, then the
# small-database rows into report/<dataset>-4000/. A data set that fails is reported and
# does not stop the others.
BENCH_DATASETS ?= fashion-mnist cifar10 20news
BENCH_BITS ?= 16,32,64,128
BENCH_ARGS ?=
# The same sets with a seeded 4,000-item database: a small folder must train enough too.
BENCH_SMALL ?= fashion-mnist cifar10
BENCH_SMALL_SIZE ?= 4000
# The image sets again through the frozen backbone (`--features`): its codes, re-ranked codes and
# float features beside the pixel rows, into report/<dataset>-features/ and -4000-features/.
BENCH_FEATURES ?= efficientnet-lite0
BENCH_FEATURE_DATASETS ?= cifar10 fashion-mnist
# e.g. --baseline-code DIR (older code, for a before/after ratio) or --photos 600
BENCH_INDEXING_ARGS ?=
bench: $(STAMP) data
	@failed=""; for d in $(BENCH_DATASETS); do \
	  echo "== semhash bench --dataset $$d"; \
	  $(BIN)/semhash bench --dataset $$d --bits $(BENCH_BITS) --out report/$$d $(BENCH_ARGS) \
	    || failed="$$failed $$d"; \
	done; \
	for d in $(BENCH_SMALL); do \
	  echo "== semhash bench --dataset $$d --db-size $(BENCH_SMALL_SIZE)"; \
	  $(BIN)/semhash bench --dataset $$d --db-size $(BENCH_SMALL_SIZE) --bits $(BENCH_BITS) \
	    --out report/$$d-$(BENCH_SMALL_SIZE) $(BENCH_ARGS) || failed="$$failed $$d-small"; \
	done; \
	for d in $(BENCH_FEATURE_DATASETS); do \
	  echo "== semhash bench --dataset $$d --features $(BENCH_FEATURES)"; \
	  $(BIN)/semhash bench --dataset $$d --bits $(BENCH_BITS) --features $(BENCH_FEATURES) \
	    --out report/$$d-features $(BENCH_ARGS) || failed="$$failed $$d-features"; \
	  $(BIN)/semhash bench --dataset $$d --db-size $(BENCH_SMALL_SIZE) --bits $(BENCH_BITS) \
	    --features $(BENCH_FEATURES) --out report/$$d-$(BENCH_SMALL_SIZE)-features $(BENCH_ARGS) \
	    || failed="$$failed $$d-small-features"; \
	done; \
	echo "== semhash bench --task indexing"; \
	$(BIN)/semhash bench --task indexing --out report/indexing $(BENCH_INDEXING_ARGS) \
	  || failed="$$failed indexing"; \
	$(BIN)/semhash bench --task indexing --features $(BENCH_FEATURES) \
	  --out report/indexing-features $(BENCH_INDEXING_ARGS) || failed="$$failed indexing-features"; \
	$(MAKE) bench-jobs || failed="$$failed jobs"; \
	if [ -n "$$failed" ]; then echo "bench failed for:$$failed"; exit 1; fi

# dedup against imagededup (the `bench` extra), 20 Newsgroups duplicates, outlier AUROC.
bench-jobs: $(STAMP) data
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/semhash bench --task dedup --dataset cifar10 --out report/dedup-cifar10
	$(BIN)/semhash bench --task dedup --dataset cifar10 --features $(BENCH_FEATURES) \
	  --out report/dedup-cifar10-features
	$(BIN)/semhash bench --task dedup --dataset 20news --out report/dedup-20news
	$(BIN)/semhash bench --task outliers --out report/outliers

# Strategies from 60k to 10M codes (10 min 17 s on this idle 2-core machine).
bench-scale: $(STAMP) data
	$(BIN)/semhash bench-scale --out scale-bench

# `semhash serve` against one-shot `semhash search` on the 60,000 Fashion-MNIST training
# images (the collection is built once, 64 bits; SERVE_EPOCHS=1 keeps that to minutes).
SERVE_COLLECTION ?= serve-bench/fashion-mnist.semhash
SERVE_EPOCHS ?= 1
bench-serve: $(STAMP) data
	@test -f $(SERVE_COLLECTION)/collection.json || $(BIN)/semhash index \
	  "$$($(BIN)/semhash data fashion-mnist -q | sed -n 's/^collection: *//p')" \
	  -c $(SERVE_COLLECTION) --bits 64 --epochs $(SERVE_EPOCHS) -q
	$(BIN)/semhash bench-serve $(SERVE_COLLECTION) --out serve-bench

# Every job on a collection of MILLION_ITEMS real-data image files (written once into
# MILLION_OUT/files and reused), each as its own `semhash` process or over HTTP: about 30
# minutes at the default million on 2 cores, 8 at MILLION_ITEMS=100000. Figures in MILLION_OUT/million.json.
MILLION_ITEMS ?= 1M
MILLION_OUT ?= report/million
bench-million: $(STAMP) data
	$(BIN)/semhash bench --task million --items $(MILLION_ITEMS) --out $(MILLION_OUT)

lint: $(STAMP)
	$(BIN)/ruff check semantic_hashing retrieval indexer query bench tests tools
	$(BIN)/ruff format --check semantic_hashing retrieval indexer query bench tests tools

format: $(STAMP)
	$(BIN)/ruff format semantic_hashing retrieval indexer query bench tests tools
	$(BIN)/ruff check --fix semantic_hashing retrieval indexer query bench tests tools

# Our wheel beside MinishLab's `semhash` (from PyPI) in a fresh venv: both import, ours runs.
check-install: $(STAMP)
	bash tools/side_by_side.sh

clean:
	rm -rf $(VENV) semhash-demo scale-bench .pytest_cache site
