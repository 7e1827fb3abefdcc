"""The one way the benchmark scripts write their part of a docs page: the text between two
marker comments is replaced, and the rest of the page (written by hand or by other scripts) is
kept."""

from __future__ import annotations

from pathlib import Path


def replace_section(page: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the page's
    text between those markers; a page without them gets it appended (a missing page is made)."""
    text = page.read_text() if page.is_file() else ""
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section + "\n"
    page.write_text(text)
    print(f"wrote {page}")
