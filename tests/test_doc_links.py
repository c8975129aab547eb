"""Every relative link in README.md and docs/ points to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# [text](target): the target up to a closing parenthesis, an anchor or a title.
LINK = re.compile(r"\[[^\]]*\]\(([^)#\s]+)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    targets = [
        t for t in LINK.findall(doc.read_text()) if "://" not in t and not t.startswith("mailto:")
    ]
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"


def test_no_link_to_method_notes() -> None:
    # The method's facts are stated where they are used; no file outside the repository is cited.
    assert not [d.name for d in DOCS if "METHOD.md" in d.read_text()]
