"""Check the citation markers of an answer against the hits it was given.

>>> from rag.types import Hit
>>> hits = [Hit(f"a:{i}", "a", "T", "x.txt", "text", 0, 4, 1.0) for i in range(3)]
>>> r = resolve("Troops were sent [3]. They stayed for years [1, 7].", hits)
>>> r.text, [c.hit.chunk_id for c in r.citations], r.dropped
('Troops were sent [1]. They stayed for years [2].', ['a:2', 'a:0'], [7])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.prompt import MARKER_RE, is_refusal, strip_markers
from rag.types import Citation, Hit

# A run of markers, with the blanks around it: "war [1] [3]." is one group.
_RUN = rf"{MARKER_RE.pattern}(?:[ \t]*{MARKER_RE.pattern})*"
_GROUP_RE = re.compile(rf"(?P<pre>[ \t]*)(?P<markers>{_RUN})(?P<post>[ \t]*)", re.IGNORECASE)
_CANONICAL_RE = re.compile(r"\[\d+\]")
MAX_RANGE = 20  # "[1-3]" expands; "[1-999999]" is a typo, not a request for a million sources


@dataclass
class Resolved:
    text: str  # the answer with renumbered, canonical markers
    citations: list[Citation]  # citations[i].n == i + 1
    dropped: list[int]  # numbers that pointed at no hit, in order of appearance
    unsupported: list[str]  # claim sentences that carry no valid citation


def resolve(text: str, hits: Sequence[Hit]) -> Resolved:
    """Renumber valid markers by first appearance, drop the others, flag uncited claims."""
    renumber: dict[int, int] = {}  # old hit number -> new citation number
    dropped: list[int] = []

    def replace(match: re.Match[str]) -> str:
        new: list[int] = []
        for old in parse_numbers(match["markers"]):
            if not 1 <= old <= len(hits):
                if old not in dropped:
                    dropped.append(old)
                continue
            n = renumber.setdefault(old, len(renumber) + 1)
            if n not in new:
                new.append(n)
        if new:
            return match["pre"] + "".join(f"[{n}]" for n in sorted(new)) + match["post"]
        return _gap(match)

    resolved = _GROUP_RE.sub(replace, text).strip()
    citations = [Citation(n=n, hit=hits[old - 1]) for old, n in renumber.items()]
    return Resolved(resolved, citations, dropped, unsupported_claims(resolved))


def _gap(match: re.Match[str]) -> str:
    """What an emptied marker group leaves behind: one space between words, else nothing."""
    text, end = match.string, match.end()
    at_line_start = match.start() == 0 or text[match.start() - 1] == "\n"
    at_punctuation = end == len(text) or text[end] in ".,;:!?)\n"
    if at_line_start or at_punctuation or not (match["pre"] or match["post"]):
        return ""
    return " "


def parse_numbers(markers: str) -> list[int]:
    """The source numbers in a run of markers: ``"[1, 3][2-4]"`` -> ``[1, 3, 2, 3, 4]``."""
    numbers: list[int] = []
    for marker in MARKER_RE.findall(markers):
        tokens = re.findall(r"\d+|[-–]", marker)
        i = 0
        while i < len(tokens):
            start = int(tokens[i])
            if i + 2 < len(tokens) and tokens[i + 1] in "-–":
                stop = int(tokens[i + 2])
                span = range(start, stop + 1) if 0 <= stop - start <= MAX_RANGE else (start, stop)
                numbers.extend(span)
                i += 3
            else:
                numbers.append(start)
                i += 1
    return numbers


def unsupported_claims(text: str) -> list[str]:
    """Sentences that make a claim (>= 4 words, not a refusal, question or heading) uncited."""
    return [s for s in split_sentences(text) if is_claim(s) and not _CANONICAL_RE.search(s)]


def is_claim(sentence: str) -> bool:
    plain = strip_markers(sentence).strip()
    if len(plain.split()) < 4 or plain.endswith(("?", ":")):
        return False
    return not is_refusal(plain)


# Words after which a period does not end a sentence.
_ABBREVIATIONS_TEXT = """mr mrs ms dr prof st gen lt col sgt capt cpl maj adm gov sen rep rev jr sr
    hon brig sir vs etc al approx inc ltd co corp dept est jan feb mar apr jun jul aug
    sep sept oct nov dec e.g i.e cf"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BEFORE_NUMBERS = frozenset(["no", "nos", "fig", "vol", "pp"])  # "No. 10", but "said no. Then"
# Words that start a sentence after an acronym: "in the U.S. The president ..." splits.
_STARTERS_TEXT = """the a an he she it they we i but and this that these those there in on at as
    however meanwhile yet so if when while after before"""
_STARTERS = frozenset(_STARTERS_TEXT.split())
_BOUNDARY_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+\S)")
_LEADING_MARKERS = re.compile(rf"^(?:{MARKER_RE.pattern}[ \t]*)+", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; each line break also ends a sentence.

    Handles titles ("Mr. Smith"), acronyms ("the U.S. envoy"), initials
    ("George W. Bush"), decimals ("4.7%"), closing quotes after a period, and a
    citation marker written after the period ("... pose. [1]"), which stays with
    the sentence before it.

    >>> split_sentences('Dr. Ames said "it rose 4.7%." Then it fell. [2] Later, a U.S. envoy came.')
    ['Dr. Ames said "it rose 4.7%."', 'Then it fell. [2]', 'Later, a U.S. envoy came.']
    """
    sentences: list[str] = []
    for line in text.splitlines():
        for piece in _split_line(line):
            lead = _LEADING_MARKERS.match(piece)
            if lead and sentences:
                sentences[-1] += " " + lead.group().strip()
                piece = piece[lead.end() :].strip()
            if piece:
                sentences.append(piece)
    return sentences


def _split_line(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(line):
        if _ends_sentence(line, start, match):
            pieces.append(line[start : match.end()].strip())
            start = match.end()
    pieces.append(line[start:].strip())
    return [p for p in pieces if p]


def _ends_sentence(line: str, start: int, match: re.Match[str]) -> bool:
    following = line[match.end() :].lstrip()
    if following[0].islower():
        return False
    if match.group()[0] != ".":
        return True
    words = line[start : match.start()].split()
    word = words[-1].lstrip("\"'“‘(").lower() if words else ""
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False  # "Mr. Smith", "George W. Bush"
    if word in _BEFORE_NUMBERS and following[0].isdigit():
        return False
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):  # "U.S", "U.K": ends a sentence only ...
        return following.split()[0].strip("\"'“‘").lower() in _STARTERS  # ... before a starter
    return True


# In an answer written marker-first ("[1] Claim. [2] Claim."), each marker group owns the
# text up to the next group or the end of its line.
_LEADING_RE = re.compile(
    rf"(?P<markers>{_RUN})[ \t]*(?P<claim>[^\n]*?)(?P<gap>[ \t]*)(?=(?:{_RUN})|\n|$)",
    re.IGNORECASE,
)
_OPENS_WITH_MARKER = re.compile(rf"^\s*(?:[-*•]\s+|\d+[.)]\s+)?{_RUN}", re.IGNORECASE)


def markers_after_claims(text: str) -> str:
    """Move markers written before their claim to after it, where readers and checks look.

    Small models often write "[1] Claim." Only an answer that opens with a marker is
    taken to use that style, so "Claim one. [1] Claim two. [2]" is left alone.

    >>> markers_after_claims('[1] Mr. Trump said "fine". [2] Ghani fled.')
    'Mr. Trump said "fine". [1] Ghani fled. [2]'
    >>> markers_after_claims("- [1] UK\\n- [2, 3] France.")
    '- UK [1]\\n- France. [2, 3]'
    >>> markers_after_claims("Kabul fell. [1] Ghani fled. [2]")
    'Kabul fell. [1] Ghani fled. [2]'
    """
    if not _OPENS_WITH_MARKER.match(text):
        return text

    def move(match: re.Match[str]) -> str:
        claim = match["claim"].strip()
        return f"{claim} {match['markers'].strip()}{match['gap']}" if claim else match[0]

    return _LEADING_RE.sub(move, text)
