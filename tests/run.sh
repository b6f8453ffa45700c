#!/usr/bin/env bash
# The whole test suite from a fresh clone: a private dev environment, the real Claude Code binary
# (from the npm registry, for the end-to-end tests), headless Chromium (for the report's browser
# test), lint, type check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

claude_version=$(cat tests/e2e/CLAUDE_CODE_VERSION)
claude_dir=.cache/claude-code
if [ "$("$claude_dir/node_modules/.bin/claude" --version 2>/dev/null | cut -d' ' -f1)" != "$claude_version" ]; then
    npm install --silent --no-audit --no-fund --prefix "$claude_dir" "@anthropic-ai/claude-code@$claude_version"
fi
export SELFDISTILL_CLAUDE_BIN="$PWD/$claude_dir/node_modules/.bin/claude"

# As root with apt-get only: elsewhere the browser test skips (and fails when CI is set).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
        echo "tests/run.sh: could not install chromium; the browser test will skip" >&2
fi

# CI also runs the long adversarial loops (kill -9, concurrency, fuzzing); locally: opt in.
if [ "${CI:-}" = true ]; then export SELFDISTILL_LONG_TESTS="${SELFDISTILL_LONG_TESTS:-1}"; fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
