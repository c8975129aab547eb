#!/usr/bin/env bash
# Create .venv and install photod with every backend (idempotent; quick when already done).
# Usage: scripts/setup.sh [EXTRAS]   (default "all"; the tests use "all,test")
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
# torch first and pinned, so that nothing pulls a newer (multi-GB) build.
.venv/bin/python -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${1:-all}]"
# The plugins shipped in plugins/ install like any third-party plugin.
for plugin in plugins/*/pyproject.toml; do
    .venv/bin/python -m pip install -q -c constraints.txt --no-deps -e "$(dirname "$plugin")"
done
# The lab (toy world, evaluation harness: `photod eval`, bench/, tools/) comes with the tests.
case ",${1:-all}," in
    *,test,*) .venv/bin/python -m pip install -q -c constraints.txt --no-deps -e lab ;;
esac
