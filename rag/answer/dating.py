"""When an answer's articles are older than the newest one searched, say so.

A reader asking "what is happening" should know the answer stands as of its article's
date when a newer article was among the sources.

>>> from rag.types import Citation, Hit
>>> old = Hit("a:0", "a", "Talks", "a.html", "Talks began.", 0, 12, 0.9, published="2025-03-01")
>>> new = Hit("b:0", "b", "Truce", "b.html", "A truce held.", 0, 13, 0.5, published="2025-03-07")
>>> as_of_note([Citation(1, old)], [old, new])
"As of 2025-03-01 (the answer's article; a newer one, of 2025-03-07, was searched)."
>>> as_of_note([Citation(1, new)], [old, new])
''
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Citation, Hit


def as_of_note(citations: Sequence[Citation], sources: Sequence[Hit]) -> str:
    """The "as of <date>" note, or "" when the cited articles are the newest (or undated)."""
    cited = [c.hit.published for c in citations if c.hit.published]
    searched = [hit.published for hit in sources if hit.published]
    if not cited or max(cited) >= max(searched):
        return ""
    return (
        f"As of {max(cited)} (the answer's article; a newer one, of {max(searched)}, was searched)."
    )
