"""photod is the product; the lab (``photod_lab``: toy world, evaluation) lives apart. Only
``photod eval`` uses the lab, imported inside the command, and says how to install it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from click.testing import CliRunner

import photod
from photod.cli.eval import LAB_HINT, eval_command

PACKAGE = Path(photod.__file__).resolve().parent


def _lab_imports(tree: ast.AST) -> list[ast.AST]:
    return [
        node
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("photod_lab"))
        or (
            isinstance(node, ast.Import)
            and any(a.name.startswith("photod_lab") for a in node.names)
        )
    ]


def test_only_photod_eval_imports_the_lab_and_only_inside_functions() -> None:
    users = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _lab_imports(tree)
        if found:
            users[path.relative_to(PACKAGE).as_posix()] = found
            top_level = [n for n in found if n in tree.body]
            assert not top_level, f"{path} imports photod_lab at import time"
    assert set(users) == {"cli/eval.py"}


def test_photod_eval_without_the_lab_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "photod_lab", None)  # as if it were not installed
    result = CliRunner().invoke(eval_command, [str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {LAB_HINT}"
