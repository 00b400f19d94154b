#!/usr/bin/env bash
# Security scan of terraform/ with checkov, offline.
#
# checkov pins many of its own libraries (boto3, pydantic, ...), so it lives in its own
# virtual environment (.venv-lint, git-ignored) and never disturbs the project's .venv.
# Skipped checks and their reasons: terraform/.checkov.yaml.
#
#   scripts/lint-terraform.sh            install (once) and scan
#   scripts/lint-terraform.sh --install  install only
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VWT_LINT_VENV:-.venv-lint}"
# checkov 3.2.x/3.3.x: the versions this configuration and its skip list were checked with
CHECKOV_SPEC='checkov>=3.2.400,<3.4'

if [ ! -x "$VENV/bin/checkov" ]; then
  echo "installing checkov into $VENV (once)" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "$CHECKOV_SPEC"
fi
[ "${1:-}" = "--install" ] && exit 0

# --skip-download: no Bridgecrew/Prisma platform calls, no external modules; the scan runs offline.
exec "$VENV/bin/checkov" -d terraform --framework terraform --skip-download --quiet --compact \
  --config-file terraform/.checkov.yaml
