#!/usr/bin/env bash
# Set everything up and run the test suite (what CI runs). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh all,test
# exiftool reads back the metadata photod writes (tests/metadata).
if ! command -v exiftool >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q libimage-exiftool-perl >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q libimage-exiftool-perl >/dev/null; } \
        || echo "warning: could not install exiftool; metadata read-back tests will fail" >&2
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
