# memsvc — run `make help` for the targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8765
STAMP   = $(VENV)/.installed
CONSTRAINTS ?= constraints.txt
EXTRAS      ?= dev,postgres
LOCK_VENV   ?= .lock-venv

.DEFAULT_GOAL := help
.PHONY: help install lock run test test-fast lint typecheck test-only browser bench bench-quality bench-scale clean fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is installed first and on its own so pip takes the CPU build present on these
# machines and never resolves a CUDA wheel for it. Everything else is pinned by
# $(CONSTRAINTS) (`make lock` writes it), which leaves torch out for the same reason:
# the `+cpu` build's version would not resolve on a machine without it.
$(STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install memsvc with its dev tools, pinned by constraints.txt

# A fresh resolve in a scratch venv, so the lock never inherits stale packages from .venv.
# It installs the same extras as `make install` ($(EXTRAS)), so the lock covers them all.
lock: ## re-resolve pyproject.toml's dependencies and rewrite constraints.txt (torch excluded)
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet "torch==2.13.0"
	$(LOCK_VENV)/bin/pip install --quiet -e ".[$(EXTRAS)]"
	{ echo "# Pins for \`make install\` (pip install -c $(CONSTRAINTS)). Written by \`make lock\`; do not edit."; \
	  echo "# torch is left out: the Makefile installs torch==2.13.0 first and on its own."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -viE '^torch([=<>~ ]|$$)'; } > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)
	@echo "wrote $(CONSTRAINTS); run \`make install\` to apply it to $(VENV)"

run: install ## install, migrate and serve REST + /mcp + /ui on $(HOST):$(PORT)
	$(BIN)/memsvc serve --host $(HOST) --port $(PORT)

lint: install ## ruff lint + format check, import boundaries
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install ## mypy --strict over memsvc and mcp_server
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (Playwright's own download does not work
# here). Installed with apt when missing and we are root; otherwise those tests skip.
browser: ## install Debian's Chromium for the browser tests when missing (root + apt)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -q && apt-get install -y -q chromium; } \
		|| echo "chromium not installed: the browser tests will be skipped"

test-only: install browser ## the pytest suite alone
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck test-only ## lint, type check and the whole test suite (what .ci/run calls)

test-fast: install ## inner loop: ruff + the tests not marked slow or browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 100
fuzz: install ## the longer schemathesis run over /openapi.json (FUZZ_EXAMPLES per operation, shrinking on)
	MEMSVC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MEMSVC_FUZZ_SHRINK=1 $(BIN)/python -m pytest \
		tests/api/test_schema_fuzz.py -q -s -p no:cacheprovider --timeout=0 $(PYTEST_ARGS)

bench: install ## speed: REST/service latency + ingest, MCP round trips + cold start, audit cost, secret redaction
	$(BIN)/python benchmarks/bench_latency.py
	$(BIN)/python benchmarks/bench_mcp.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_secrets.py --out benchmarks/results/secrets.md

bench-quality: install ## LoCoMo retrieval quality (needs ../shared/bench/locomo_dev.json)
	$(BIN)/python benchmarks/bench_quality.py --data ../shared/bench/locomo_dev.json

# Resumable: each configuration's data dir under SCALE_ROOT is filled once and reused.
SCALE_ROOT  ?= /tmp/memsvc-scale
SCALE_SIZES ?= 10000,50000,100000
SCALE_PROJECTS ?= 1000x100
SCALE_ARGS  ?=
bench-scale: install ## scale: one project at SCALE_SIZES, many (SCALE_PROJECTS) on one server, over HTTP
	$(BIN)/python benchmarks/bench_row_memory.py
	$(BIN)/python benchmarks/bench_scale.py --root $(SCALE_ROOT) --sizes $(SCALE_SIZES) \
		--projects $(SCALE_PROJECTS) --out benchmarks/results/scale.md $(SCALE_ARGS)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache
