#!/usr/bin/env bash
# Set everything up, make `photod` callable from anywhere, and run the daemon on its default
# configuration. Arguments go to `photod run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# `photod` on PATH: a link in ~/.local/bin (the XDG place for a user's programs).
BIN="$HOME/.local/bin"
if [ "$(readlink "$BIN/photod" 2>/dev/null)" != "$PWD/.venv/bin/photod" ]; then
    mkdir -p "$BIN"
    ln -sfn "$PWD/.venv/bin/photod" "$BIN/photod"
    echo "photod: linked $BIN/photod -> $PWD/.venv/bin/photod"
    case ":$PATH:" in
        *":$BIN:"*) ;;
        *) echo "photod: $BIN is not on your PATH; add it: echo 'export PATH=\"\$HOME/.local/bin:\$PATH\"' >> ~/.profile" ;;
    esac
fi
exec .venv/bin/photod run "$@"
