"""A minimal isolated configuration file's text (for CLI tests)."""

from __future__ import annotations

from pathlib import Path


def isolated_yaml(tmp_path: Path, extra: str = "") -> str:
    """Every path under ``tmp_path``; CLIP off (no model needed)."""
    root = tmp_path / "photos"
    root.mkdir(exist_ok=True)
    return (
        f"paths:\n  data_dir: {tmp_path / 'data'}\n  cache_dir: {tmp_path / 'cache'}\n"
        f"  state_dir: {tmp_path / 'state'}\n"
        f"library:\n  roots: [{root}]\n"
        "clip:\n  enabled: false\n" + extra
    )
