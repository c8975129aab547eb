"""No module outside photod/index/ runs SQL: every read and write goes through the Index facade.

An AST scan of the product, the shipped plugins and the bench/tools scripts for the ways SQL
gets run (``.execute*``, ``.query(``, a connection's ``.conn``, sqlite-utils tables as
``db["name"]``) and for SQL statements written as strings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("photod", "plugins", "bench", "tools")
OWNER = "photod/index/"

CALLS = {"execute", "executemany", "executescript", "query"}
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(TABLE|INDEX|TRIGGER|VIRTUAL)|DROP\s+(TABLE|INDEX)|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)",
    re.DOTALL,
)


def sql_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) of every place in ``source`` that runs or spells out SQL."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in CALLS:
                found.append((node.lineno, f".{node.func.attr}()"))
        elif isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append((node.lineno, ".conn"))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id.endswith("db")
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.append((node.lineno, f'{node.value.id}["{node.slice.value}"]'))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL.search(node.value)
        ):
            found.append((node.lineno, "SQL string"))
    return found


def _modules() -> list[Path]:
    files = []
    for top in SCANNED:
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if not f.relative_to(ROOT).as_posix().startswith(OWNER)]


def test_no_sql_outside_the_index_package():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _modules()
        for line, what in sql_uses(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "SQL outside photod/index/ (use the Index facade):\n" + "\n".join(
        offenders
    )


def test_the_scan_finds_each_way_of_running_sql():
    source = """
db.conn.execute("SELECT 1")
reader().executemany(sql, rows)
db["photos"].insert(row)
rows = db.query(text)
sql = "DELETE FROM photos WHERE id = ?"
note = "select a photo, then delete it from the album"
"""
    assert sorted(sql_uses(source)) == [
        (2, ".conn"),
        (2, ".execute()"),
        (3, ".executemany()"),
        (4, 'db["photos"]'),
        (5, ".query()"),
        (6, "SQL string"),
    ]


def test_the_index_package_itself_is_scanned_as_sql():
    # The scan would see the facade's own modules: the exemption is by path, not by accident.
    own = [p for p in (ROOT / OWNER).glob("*.py") if sql_uses(p.read_text(encoding="utf-8"))]
    assert own, "the index package runs SQL, so the scan must find some there"
