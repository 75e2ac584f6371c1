# One task runner. `make demo` and `make test` work on a fresh machine: the first run
# creates .venv and installs the project (about a minute when torch is on local disk).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: demo test test-slow bench bench-jobs bench-scale lint format data postgres clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,milvus]'
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

demo: $(STAMP) data
	$(BIN)/semhash demo

test: $(STAMP) data postgres
	$(BIN)/python -m pytest -q

test-slow: $(STAMP) data
	$(BIN)/python -m pytest -q -m slow

# Every method on each data set at each code length, into report/<dataset>/. A data set
# that fails is reported and does not stop the others.
BENCH_DATASETS ?= fashion-mnist cifar10 20news
BENCH_BITS ?= 16,32,64,128
BENCH_ARGS ?=
bench: $(STAMP) data
	@failed=""; for d in $(BENCH_DATASETS); do \
	  echo "== semhash bench --dataset $$d"; \
	  $(BIN)/semhash bench --dataset $$d --bits $(BENCH_BITS) --out report/$$d $(BENCH_ARGS) \
	    || failed="$$failed $$d"; \
	done; \
	$(MAKE) bench-jobs || failed="$$failed jobs"; \
	if [ -n "$$failed" ]; then echo "bench failed for:$$failed"; exit 1; fi

# dedup against imagededup (the `bench` extra), 20 Newsgroups duplicates, outlier AUROC.
bench-jobs: $(STAMP) data
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/semhash bench --task dedup --dataset cifar10 --out report/dedup-cifar10
	$(BIN)/semhash bench --task dedup --dataset 20news --out report/dedup-20news
	$(BIN)/semhash bench --task outliers --out report/outliers

# Strategies from 60k to 10M codes (10 min 17 s on this idle 2-core machine).
bench-scale: $(STAMP) data
	$(BIN)/semhash bench-scale --out scale-bench

lint: $(STAMP)
	$(BIN)/ruff check semhash retrieval indexer query tests
	$(BIN)/ruff format --check semhash retrieval indexer query tests

format: $(STAMP)
	$(BIN)/ruff format semhash retrieval indexer query tests
	$(BIN)/ruff check --fix semhash retrieval indexer query tests

clean:
	rm -rf $(VENV) semhash-demo scale-bench .pytest_cache
