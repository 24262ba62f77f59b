"""Every document the code or the README points users to exists in the repository, and none
points outside it (the CLI once named a docs/training.md that did not exist)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = re.compile(r"docs/[\w./-]+\.md")


def _documents() -> list[Path]:
    """The source files, README and docs: everything that can point a user to a document."""
    return [*sorted((ROOT / "src").rglob("*.py")), ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _mentions() -> list[tuple[Path, str]]:
    return [(f, m) for f in _documents() for m in DOC.findall(f.read_text(encoding="utf-8"))]


def test_every_docs_path_mentioned_exists():
    mentions = _mentions()
    assert len(mentions) > 10  # the pattern finds the pointers
    missing = sorted({f"{f.relative_to(ROOT)}: {m}" for f, m in mentions if not (ROOT / m).is_file()})
    assert missing == []


def test_nothing_points_outside_the_repository():
    bad = []
    for f in _documents():
        text = f.read_text(encoding="utf-8")
        if "../shared" in text or "research-brief" in text:
            bad.append(str(f.relative_to(ROOT)))
    assert bad == []
