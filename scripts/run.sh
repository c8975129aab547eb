#!/usr/bin/env bash
# Set everything up and run the photod daemon on its default configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/photod run "$@"
