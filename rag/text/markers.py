"""Citation markers: the one ``[n]`` grammar, and the one renumbering rule.

A model writes ``[1]``, ``[1, 3]``, ``[1-3]`` or ``[Source 2]``; an answer shows only
canonical ``[n]`` markers, numbered by first appearance.

>>> strip_markers("War [1]. Peace [2, 3].")
'War. Peace.'
>>> parse_numbers("[1, 3][2-4]")
[1, 3, 2, 3, 4]
>>> order: dict[int, int] = {}
>>> renumber("Troops were sent [3]. They stayed [1, 7].", 3, order)
('Troops were sent [1]. They stayed [2].', [7])
>>> order
{3: 1, 1: 2}
"""

from __future__ import annotations

import re

# One citation marker: [1], [1, 3], [1][3] (two markers), [ 2 ], [1-3], [Source 2].
MARKER_RE = re.compile(
    r"\[\s*(?:sources?\s*)?\d+(?:\s*(?:,|;|-|–|and)\s*(?:sources?\s*)?\d+)*\s*\]",
    re.IGNORECASE,
)
# A run of markers: "war [1] [3]." holds one run.
RUN = rf"{MARKER_RE.pattern}(?:[ \t]*{MARKER_RE.pattern})*"
RUN_RE = re.compile(RUN, re.IGNORECASE)
# A run with the blanks around it, as renumber() rewrites it.
_GROUP_RE = re.compile(rf"(?P<pre>[ \t]*)(?P<markers>{RUN})(?P<post>[ \t]*)", re.IGNORECASE)
MAX_RANGE = 20  # "[1-3]" expands; "[1-999999]" is a typo, not a request for a million sources


def strip_markers(text: str) -> str:
    """Remove citation markers and the spaces before them: ``"War [1]."`` -> ``"War."``."""
    return re.sub(r"[ \t]*" + MARKER_RE.pattern, "", text, flags=re.IGNORECASE).strip()


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


def renumber(text: str, n_sources: int, order: dict[int, int]) -> tuple[str, list[int]]:
    """Rewrite every marker run of ``text`` as canonical markers; return it and the dropped.

    A number from 1 to ``n_sources`` gets the next citation number the first time it
    is seen (``order`` maps source number -> citation number and is updated, so the
    pieces of one answer can be renumbered one after another); any other number is
    dropped, and a run left empty takes its blanks with it. A run is written sorted
    and without repeats: ``[3, 2]`` -> ``[1][2]``.
    """
    dropped: list[int] = []

    def replace(match: re.Match[str]) -> str:
        new: list[int] = []
        for old in parse_numbers(match["markers"]):
            if not 1 <= old <= n_sources:
                if old not in dropped:
                    dropped.append(old)
                continue
            n = order.setdefault(old, len(order) + 1)
            if n not in new:
                new.append(n)
        if new:
            return match["pre"] + "".join(f"[{n}]" for n in sorted(new)) + match["post"]
        return _gap(match)

    return _GROUP_RE.sub(replace, text), dropped


def _gap(match: re.Match[str]) -> str:
    """What an emptied marker run leaves behind: one space between words, else nothing."""
    text, end = match.string, match.end()
    at_line_start = match.start() == 0 or text[match.start() - 1] == "\n"
    at_punctuation = end == len(text) or text[end] in ".,;:!?)\n"
    if at_line_start or at_punctuation or not (match["pre"] or match["post"]):
        return ""
    return " "


# In an answer written marker-first ("[1] Claim. [2] Claim."), each marker run owns the
# text up to the next run or the end of its line.
_LEADING_RE = re.compile(
    rf"(?P<markers>{RUN})[ \t]*(?P<claim>[^\n]*?)(?P<gap>[ \t]*)(?=(?:{RUN})|\n|$)",
    re.IGNORECASE,
)
OPENS_WITH_MARKER = re.compile(rf"^\s*(?:[-*•]\s+|\d+[.)]\s+)?{RUN}", re.IGNORECASE)


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
    if not OPENS_WITH_MARKER.match(text):
        return text

    def move(match: re.Match[str]) -> str:
        claim = match["claim"].strip()
        return f"{claim} {match['markers'].strip()}{match['gap']}" if claim else match[0]

    return _LEADING_RE.sub(move, text)
