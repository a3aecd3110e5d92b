# Jiayi (家医): `make run` serves the demo, `make test` runs the whole suite. Each sets itself up.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARTIFACTS ?= test-artifacts
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench lint format system-deps clean help

help:
	@echo "make run    - serve the demo on http://127.0.0.1:8080 (SQLite, local encrypted blobs)"
	@echo "make test   - the whole suite (SQLite, PostgreSQL, Chromium)"
	@echo "make bench  - benchmarks, with their baselines"
	@echo "make lint   - ruff and mypy"

$(STAMP): pyproject.toml setup.py media/fastpath.pyx
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV) || { \
		echo "venv is missing: installing python3-venv"; $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	@command -v gcc >/dev/null 2>&1 || { echo "installing gcc through apt (media/fastpath.pyx is compiled)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gcc >/dev/null; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Chromium drives the browser tests (Playwright talks to Debian's build, never downloads its own);
# ffmpeg's ffprobe checks recordings; a CJK font lets screenshots show the Chinese pages.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v ffprobe >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing through apt:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The pages' browser packages (socket.io-client), served from node_modules by the app.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "installing npm through apt"; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(STAMP) $(NODE_STAMP)
	$(PY) run.py serve --demo

test: $(STAMP) $(NODE_STAMP) system-deps
	@mkdir -p $(ARTIFACTS)
	$(PY) -m pytest -q -p no:cacheprovider --junitxml=$(ARTIFACTS)/junit.xml

bench: $(STAMP) system-deps
	$(PY) bench/api.py
	$(PY) bench/signaling.py
	$(PY) bench/relay.py
	@# ... and a media worker per core, each with 150 streams (the load generators share the cores)
	$(PY) bench/relay.py --no-compare --workers $$(nproc) --generators $$(nproc) --steps 150
	$(PY) bench/recorder.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) node_modules $(ARTIFACTS) .pytest_cache .mypy_cache .ruff_cache
