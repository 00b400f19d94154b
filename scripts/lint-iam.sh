#!/usr/bin/env bash
# Lint of the deploy role's policy (environments/deployer-policy.json) with parliament (duo-labs), offline.
#
# The template is rendered for an example environment (its ${name_prefix}, ${account_id} and ${region} filled:
# parliament checks ARNs against each action's resource formats), then parliament's findings are printed, less
# the few listed in scripts/lint_iam.py with the reason each is not a defect. Any other finding fails.
#
# parliament lives in its own virtual environment, .venv-lint/iam (git-ignored with .venv-lint), as checkov and
# the workflow linters do: it pins libraries of its own.
#
#   scripts/lint-iam.sh            install (once) and lint
#   scripts/lint-iam.sh --install  install only
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VWT_IAM_LINT_VENV:-${VWT_LINT_VENV:-.venv-lint}/iam}"
# parliament 1.6.x: the version whose findings and IAM definitions scripts/lint_iam.py's exceptions were checked with
PARLIAMENT_SPEC='parliament>=1.6.4,<1.7'

if [ ! -x "$VENV/bin/parliament" ]; then
  echo "installing parliament into $VENV (once)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "$PARLIAMENT_SPEC"
fi
[ "${1:-}" = "--install" ] && exit 0

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
.venv/bin/python -c '
import sys
from vwt_deploy.deploy.deployrole import render_policy
print(render_policy(open("environments/deployer-policy.json").read(), "vwt-dev", "111111111111", "eu-west-1"))
' >"$rendered"
"$VENV/bin/python" scripts/lint_iam.py "$rendered"
