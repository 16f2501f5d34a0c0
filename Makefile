# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    the main job (creates .venv and installs the project on first use)
#   make test   the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast reliability bench bench-all tune-check docs lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "onyx-bench needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/onyx-bench reproduce

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow'

# Issue 16's reliability suite in reliability/ (make test never collects it; the suite runs the fault
# matrix's virtual cells, tests/test_fault_matrix_subset.py): the fault matrix, every fault kind x
# every strategy, with and without retries, x both modes, each cell checked for lost items, its
# deadline, exceptions, pending tasks, warnings and open fds; load (10,000 in flight); bad input
# (hypothesis); interruptions (SIGINT, SIGTERM, SIGKILL x both modes x local and Dask, then
# --resume against an uninterrupted sweep); ends with both matrices' tables. About 7 minutes.
reliability: $(STAMP)
	$(BIN)/python -m pytest reliability

# Regenerate the README's plots from the main job (commit docs/ when results change).
docs: $(STAMP)
	$(BIN)/onyx-bench reproduce --out results/docs
	cp results/docs/report/plots/makespan_vs_files.png results/docs/report/plots/timeline.png docs/

# The pytest-benchmark suite in benchmarks/ (make test never collects it): saves its JSON under
# .benchmarks/ (compare two runs with .venv/bin/pytest-benchmark compare 0001 0002) and ends with the
# ratios against bare aiohttp, each beside its goal. bench-all adds the slow ones (time-scale error,
# tune's wall time; 7.5 minutes on 2 cores); tune-check runs the tune's check (a plain test).
BENCH := $(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-autosave --benchmark-group-by=group \
	--benchmark-columns=min,median,max,iqr,rounds --benchmark-sort=name

bench: $(STAMP)
	$(BENCH) -m 'not slow'

bench-all: $(STAMP)
	$(BENCH)

# The issue's check of tune: its recommendation for production, 50 runs on virtual time and 5 on
# sockets on seeds it never searched on, loses no file, never crashes, never hits the idle timeout.
# ONYX_TUNE_DIR=folder checks a finished tune instead of running one.
tune-check: $(STAMP)
	$(BIN)/python -m pytest benchmarks/test_slow.py::test_tune_check -s -q

lock: $(STAMP)
	( echo "# Exact versions the Makefile installs (pip -c): reproducible set-ups. Regenerate with 'make lock'."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^onyx-bench' ) > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
