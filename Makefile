# vwt-deploy. Set-up: `make install`, then `make test` (README.md).
# The CI targets (lint, plan, up, down, bench) are thin calls of the CLI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ENV    ?= local
YES    ?=

.PHONY: install test static lint plan up down status bench clean

install: $(BIN)/vwt-deploy
	$(BIN)/python -m vwt_deploy.deploy.tfsetup

$(BIN)/vwt-deploy: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

test: static
	$(BIN)/pytest

# ruff (lint with a complexity cap, format), mypy, import-linter (the layers): pyproject.toml
static:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

lint: static
	$(BIN)/vwt-deploy validate --env $(ENV)
	scripts/lint-terraform.sh

plan:
	$(BIN)/vwt-deploy plan --env $(ENV)

up:
	$(BIN)/vwt-deploy up --env $(ENV) $(if $(YES),--yes)

down:
	$(BIN)/vwt-deploy down --env $(ENV) $(if $(YES),--yes)

status:
	$(BIN)/vwt-deploy status --env $(ENV)

bench:
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py $(ONLY)

clean:
	rm -rf .vwt .pytest_cache
