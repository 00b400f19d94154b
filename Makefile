# vwt-deploy. Set-up: `make install`, then `make test` (README.md).
# The CI targets (lint, plan, up, down, bench) are thin calls of the CLI.
#   make plan ENV=dev PLAN_ARGS="--detailed-exitcode --markdown"   extra arguments of `vwt-deploy plan`
#   make down ENV=dev YES=1 DESTROY_DATA=1   also destroy data and model buckets that hold objects;
#                                            refused for ENV=prod before anything runs

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ENV    ?= local
YES    ?=
PLAN_ARGS    ?=
DESTROY_DATA ?=

# `make down` checks DESTROY_DATA when the makefile is read, so before any target runs and with `make -n` too:
# 1 (on), 0 or unset (off), anything else (yes, true, ...) refused rather than guessed at; never 1 for prod.
ifneq ($(filter down,$(MAKECMDGOALS)),)
ifneq ($(filter-out 0 1,$(strip $(DESTROY_DATA))),)
$(error DESTROY_DATA=$(DESTROY_DATA): use DESTROY_DATA=1 (destroy data and model buckets that hold objects), \
or 0 / unset (keep them). Nothing was run)
endif
ifeq ($(strip $(DESTROY_DATA)):$(strip $(ENV)),1:prod)
$(error DESTROY_DATA=1 is refused for ENV=prod: make never destroys prod's data and model buckets. \
Nothing was run. To delete prod's data, empty its buckets yourself, or run \
`vwt-deploy down --env prod --destroy-data` by hand and type the environment's name when asked)
endif
endif

.PHONY: install test static lint deployer-policy plan up down status bench clean

install: $(BIN)/vwt-deploy scripts/mermaid/node_modules/.package-lock.json
	$(BIN)/python -m vwt_deploy.deploy.tfsetup

$(BIN)/vwt-deploy: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# the tests' Mermaid parser (every diagram in the docs, every drawn state machine): Node.js >= 18 and npm
scripts/mermaid/node_modules/.package-lock.json: scripts/mermaid/package-lock.json
	@command -v npm >/dev/null || { echo "make install needs Node.js >= 18 with npm (the tests check the docs' \
Mermaid diagrams with Mermaid's parser): install it, e.g. apt-get install nodejs npm, then run make install again" >&2; exit 1; }
	npm ci --prefix scripts/mermaid --no-audit --no-fund --loglevel=error

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
	scripts/lint-workflows.sh
	scripts/lint-iam.sh

# the deploy role's policy, derived from a local run of what a deployment calls (review the diff, then commit)
deployer-policy:
	$(BIN)/python scripts/derive-deployer-policy.py
	scripts/lint-iam.sh

plan:
	$(BIN)/vwt-deploy plan --env $(ENV) $(PLAN_ARGS)

up:
	$(BIN)/vwt-deploy up --env $(ENV) $(if $(YES),--yes)

down:
	$(BIN)/vwt-deploy down --env $(ENV) $(if $(YES),--yes) $(if $(filter 1,$(strip $(DESTROY_DATA))),--destroy-data)

status:
	$(BIN)/vwt-deploy status --env $(ENV)

bench:
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py $(ONLY)

clean:
	rm -rf .vwt .pytest_cache
