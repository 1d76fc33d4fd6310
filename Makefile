# EO-SR Kit. On a fresh machine `make reproduce` and `make test` are each one command:
# both run `setup` first, which creates .venv and installs the kit (once; again only when
# pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= $(or $(EOSR_PROFILE),teaching)
TAG ?=

.PHONY: setup reproduce test lab bench sample lint format clean-venv browser-check sync-notebooks \
	test-colab docs release

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -e ".[dev,earthengine,docs,release]"
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

# Colab as it is: Python 3.12 and 3.13 venvs holding Colab's preinstalled packages
# (tools/colab_preinstalled.txt, torch's CUDA build from PyPI: GBs, cached in ~/.cache/eosr-colab)
# run notebooks 00 and 03 through their setup cell. Not part of `make test`.
test-colab: setup
	EOSR_TEST_COLAB=1 $(PY) -m pytest tests/test_colab_env.py -v -s

# The course site from the newest `make reproduce` run (a smoke run when there is none).
docs: setup
	$(PY) tools/build_docs.py --smoke-fallback

docs-check: docs
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(PY) tools/browser_check.py --site build/site

# make release TAG=v0.2.0: version, notebooks pinned, commit, tag, sdist + wheel, twine check,
# the wheel runs notebook 00 in a fresh venv. Commits and tags: try it in a clone first.
release: setup
	@test -n "$(TAG)" || (echo "usage: make release TAG=v0.2.0" >&2; exit 2)
	$(PY) tools/release.py $(TAG)
