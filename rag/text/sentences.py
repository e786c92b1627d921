"""The one sentence splitter: sentence and paragraph spans with character offsets.

Chunking, passage trimming, claim checking and the chat's highlighting all split
with it, so a "sentence" is the same thing everywhere. A sentence ends at
``. ! ? …`` (closing quotes and brackets included) before a word that does not
start in lowercase, except after a title ("Mr. Smith"), an initial ("George W.
Bush"), "No." before a number, or an acronym ("the U.S. envoy") unless a usual
sentence starter follows ("in the U.S. The talks ..."). Decimals ("4.7%") never
end one. A citation marker written after the period ("... fell. [2]") stays with
the sentence before it.

>>> text = "Mr. Trump spoke. He said “no.”\\n\\nA new paragraph."
>>> [text[s:e] for s, e in sentence_spans(text)]
['Mr. Trump spoke.', 'He said “no.”', 'A new paragraph.']
>>> split_sentences('Dr. Ames said "it rose 4.7%." Then it fell. [2] Later, a U.S. envoy came.')
['Dr. Ames said "it rose 4.7%."', 'Then it fell. [2]', 'Later, a U.S. envoy came.']
"""

from __future__ import annotations

import re

from rag.text.markers import RUN

# Words after which a period does not end a sentence.
_ABBREVIATIONS_TEXT = """mr mrs ms dr prof st gen lt col sgt capt cpl maj adm gov sen rep rev jr sr
    hon brig sir vs etc al approx inc ltd co corp dept est jan feb mar apr jun jul aug
    sep sept oct nov dec e.g i.e cf pic"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BEFORE_NUMBERS = frozenset(["no", "nos", "fig", "vol", "pp"])  # "No. 10", but "said no. Then"
# Words that start a sentence after an acronym: "in the U.S. The president ..." splits.
_STARTERS_TEXT = """the a an he she it they we i but and this that these those there in on at as
    however meanwhile yet so if when while after before"""
_STARTERS = frozenset(_STARTERS_TEXT.split())
_BOUNDARY_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+\S)")
_TRAILING_MARKERS = re.compile(rf"[ \t]+{RUN}", re.IGNORECASE)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the blank-line-separated paragraphs of ``text`` (whitespace trimmed)."""
    spans = []
    for match in re.finditer(r"\S(?:.*?\S)?(?=\s*(?:\n\s*\n|\Z))", text, flags=re.S):
        spans.append((match.start(), match.end()))
    return spans


def _line_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S(?:[^\n]*\S)?", text)]


def sentence_spans(text: str, *, line_breaks: bool = False) -> list[tuple[int, int]]:
    """Spans of the sentences of ``text``; a paragraph break always ends a sentence.

    With ``line_breaks`` every line break ends one too: an answer's list items and
    headings are lines, while an article's single line breaks may be hard wrapping.
    """
    spans: list[tuple[int, int]] = []
    for block_start, block_end in (_line_spans if line_breaks else paragraph_spans)(text):
        start = block_start
        for match in _BOUNDARY_RE.finditer(text, block_start, block_end):
            if match.start() < start or not _ends_sentence(text[start:block_end], match, start):
                continue
            end = match.end()
            trailing = _TRAILING_MARKERS.match(text, end, block_end)
            end = trailing.end() if trailing else end
            spans.append((start, end))
            start = end + len(text[end:block_end]) - len(text[end:block_end].lstrip())
        if start < block_end:
            spans.append((start, block_end))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each line break ending one too (see :func:`sentence_spans`)."""
    return [text[start:end] for start, end in sentence_spans(text, line_breaks=True)]


def _ends_sentence(sentence: str, match: re.Match[str], offset: int) -> bool:
    """Does the boundary ``match`` (offsets in the whole text) end ``sentence``?"""
    following = sentence[match.end() - offset :].lstrip()
    if following[0].islower():
        return False
    if match.group()[0] != ".":
        return True
    words = sentence[: match.start() - offset].split()
    word = words[-1].lstrip("\"'“‘(").lower() if words else ""
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False  # "Mr. Smith", "George W. Bush"
    if word in _BEFORE_NUMBERS and following[0].isdigit():
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):  # "U.S", "U.K": ends a sentence only ...
        return following.split()[0].strip("\"'“‘").lower() in _STARTERS  # ... before a starter
    return True
