"""Sentence and paragraph spans with character offsets.

>>> text = "Mr. Trump spoke. He said “no.”\\n\\nA new paragraph."
>>> [text[s:e] for s, e in sentence_spans(text)]
['Mr. Trump spoke.', 'He said “no.”', 'A new paragraph.']
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) then
# whitespace and an uppercase letter, digit or opening quote.
_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "sir",
    "st",
    "jr",
    "sr",
    "vs",
    "etc",
    "no",
    "lt",
    "col",
    "capt",
    "sgt",
    "rep",
    "sen",
    "gov",
    "u.s",
    "u.k",
    "e.g",
    "i.e",
    "pic",
}


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the blank-line-separated paragraphs of ``text`` (whitespace trimmed)."""
    spans = []
    for match in re.finditer(r"\S(?:.*?\S)?(?=\s*(?:\n\s*\n|\Z))", text, flags=re.S):
        spans.append((match.start(), match.end()))
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREV or (len(token) == 1 and token.isalpha())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``; a paragraph break always ends a sentence."""
    spans: list[tuple[int, int]] = []
    for p_start, p_end in paragraph_spans(text):
        para = text[p_start:p_end]
        start = 0
        for match in _END.finditer(para):
            if para[match.start()] == "." and _is_abbreviation(para, match.start()):
                continue
            spans.append((p_start + start, p_start + match.end()))
            start = match.end() + len(para[match.end() :]) - len(para[match.end() :].lstrip())
        if start < len(para):
            spans.append((p_start + start, p_end))
    return spans
