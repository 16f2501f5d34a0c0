# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    the main job (creates .venv and installs the project on first use)
#   make test   the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench tune-check docs lock clean

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

# Regenerate the README's plots from the main job (commit docs/ when results change).
docs: $(STAMP)
	$(BIN)/onyx-bench reproduce --out results/docs
	cp results/docs/report/plots/makespan_vs_files.png results/docs/report/plots/timeline.png docs/

bench: $(STAMP)
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/client_stack.py
	$(BIN)/python benchmarks/time_scale_error.py
	$(BIN)/python benchmarks/virtual_speed.py
	$(BIN)/python benchmarks/tune_speed.py

# The issue's check of tune: its recommendation for production, 50 runs on virtual time and 5 on
# sockets on seeds it never searched on, loses no file, never crashes, never hits the idle timeout.
tune-check: $(STAMP)
	$(BIN)/python benchmarks/tune_check.py

lock: $(STAMP)
	( echo "# Exact versions the Makefile installs (pip -c): reproducible set-ups. Regenerate with 'make lock'."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^onyx-bench' ) > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
