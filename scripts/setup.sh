#!/usr/bin/env bash
# Create .venv and install photod with every backend. pip runs only when the project's
# dependencies changed since the last install (pyproject.toml files, constraints.txt, extras).
# Usage: scripts/setup.sh [EXTRAS]   (default $PHOTOD_EXTRAS or "all"; the tests use
# "all,test,ray"; PHOTOD_EXTRAS=all,gpu scripts/run.sh runs the insightface backend on CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=${1:-${PHOTOD_EXTRAS:-all}}
# pip's own notices (a newer pip exists, running as root) are not photod's business.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
STAMP=.venv/.photod-deps
wanted=$( { echo "extras=$EXTRAS"; cat pyproject.toml constraints.txt plugins/*/pyproject.toml lab/pyproject.toml; } \
    | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    exit 0
fi
# torch first and pinned, so that nothing pulls a newer (multi-GB) build.
.venv/bin/python -m pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -c constraints.txt -e ".[$EXTRAS]"
# onnxruntime-gpu and onnxruntime install the same `onnxruntime` module, and the CPU one
# (which insightface requires) silently wins: remove it and lay the GPU one down again.
case ",$EXTRAS," in
    *,gpu,*)
        ort=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("onnxruntime-gpu"))')
        .venv/bin/python -m pip uninstall -q -y onnxruntime
        .venv/bin/python -m pip install -q --force-reinstall --no-deps "onnxruntime-gpu==$ort"
        ;;
esac
# The plugins shipped in plugins/ install like any third-party plugin.
for plugin in plugins/*/pyproject.toml; do
    .venv/bin/python -m pip install -q -c constraints.txt --no-deps -e "$(dirname "$plugin")"
done
# The lab (toy world, evaluation harness: `photod eval`, bench/, tools/) comes with the tests.
case ",$EXTRAS," in
    *,test,*) .venv/bin/python -m pip install -q -c constraints.txt --no-deps -e lab ;;
esac
echo "$wanted" >"$STAMP"
