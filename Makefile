# Every target creates or refreshes the virtual environment first, so a fresh machine
# needs nothing but Python, pip and the database servers. One environment, two installs:
# `make demo` installs the package alone (what a user gets), every other target the package
# with the `dev` extra (test, lint, type and docs tools, the example apps' frameworks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.demo-stamp
STAMP := $(VENV)/.dev-stamp

.PHONY: venv demo test lint typecheck bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The dev install holds everything the demo needs: it satisfies the demo's stamp too.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(DEMO_STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m demo.app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The docs site is built too (strict), so a broken page or reference fails the run.
test: lint typecheck docs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# make bench-peers (issue 7): asyncdb orm against the raw drivers (asyncpg, aiomysql, aiosqlite),
# SQLAlchemy, Tortoise ORM, ormar and encode/databases + orm on PostgreSQL, MariaDB and SQLite,
# each peer in its own virtual environment under .venv-peers/ (they pin conflicting
# dependencies), made from benchmarks/peers/requirements-<peer>.txt. About 13 minutes on the
# 2-core VM; PEERS_ARGS=--quick about 8; PEERS_ARGS=--docs also copies the summary into
# docs/performance.md; see benchmarks/peers/README.md.
PEERS_VENVS ?= .venv-peers
PEERS := tortoise ormar encode tools
PEERS_STAMPS := $(foreach p,$(PEERS),$(PEERS_VENVS)/$(p)/.installed-stamp)

.PHONY: bench-peers peers-venvs

$(PEERS_VENVS)/%/.installed-stamp: benchmarks/peers/requirements-%.txt
	rm -rf $(PEERS_VENVS)/$*
	$(PYTHON) -m venv $(PEERS_VENVS)/$*
	$(PEERS_VENVS)/$*/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENVS)/$*/bin/python -m pip install --quiet -r benchmarks/peers/requirements-$*.txt
	touch $@

peers-venvs: $(PEERS_STAMPS)

bench-peers: $(STAMP) $(PEERS_STAMPS)
	$(BIN)/python -m benchmarks.bench_peers $(PEERS_ARGS)
