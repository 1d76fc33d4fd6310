# EO-SR Kit. On a fresh machine `make reproduce` and `make test` are each one command:
# both run `setup` first, which creates .venv and installs the kit (once; again only when
# pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= $(or $(EOSR_PROFILE),teaching)
TAG ?=

.PHONY: setup reproduce test lab bench sample lint format clean-venv browser-check sync-notebooks

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -e ".[dev,earthengine]"
	@touch $(STAMP)

reproduce: setup
	$(VENV)/bin/eosr reproduce --profile $(PROFILE)

test: setup
	$(PY) -m pytest

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: setup
	$(VENV)/bin/eosr bench --profile $(PROFILE)

sample: setup
	$(VENV)/bin/eosr sample --profile $(PROFILE)

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean-venv:
	rm -rf $(VENV)

browser-check: setup
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(PY) tools/browser_check.py

sync-notebooks: setup
	$(PY) tools/sync_notebooks.py --pin $(TAG)
