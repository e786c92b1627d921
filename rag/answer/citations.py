"""Resolve an answer's citation markers against the hits it was given, as it streams.

:class:`CitedText` takes the answer in the pieces the model writes and gives back
text that is final as soon as it is given: each sentence is held until it is
complete (its trailing markers seen), then its markers are moved after the claim
(:func:`rag.text.markers.markers_after_claims`), re-pointed at the passage that
holds its words, or added after an uncited claim that one passage holds
(:mod:`rag.answer.repoint`), and renumbered (:func:`rag.text.markers.renumber`).
A marker written as a word ("because [1] it", "according to [1]", "X, [1].") moves to its
sentence's end first (:func:`markers_as_words_to_end`, :func:`according_to_markers`).
Text before a sentence's first ``[``, up to its end, is given at once, since none
of those steps changes it, except a trailing comma or start of "according to", which
waits for the next piece. The streamed text joined
is the answer's text; :func:`resolve` is the same for text written at once.

>>> from rag.types import Hit
>>> hits = [Hit(f"a:{i}", "a", "T", "x.txt", "text", 0, 4, 1.0) for i in range(3)]
>>> r = resolve("Troops were sent [3]. They stayed for years [1, 7].", hits)
>>> r.text, [c.hit.chunk_id for c in r.citations], r.dropped
('Troops were sent [1]. They stayed for years [2].', ['a:2', 'a:0'], [7])
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.repoint import repoint
from rag.text.markers import (
    MARKER_RE,
    OPENS_WITH_MARKER,
    RUN_RE,
    markers_after_claims,
    renumber,
)
from rag.text.refusals import is_claim
from rag.text.sentences import sentence_spans, split_sentences
from rag.types import Citation, Hit

# A whole first word of a sentence: one with a letter or digit, so that a quotation mark
# left alone before a marker ("West. [2] “ [1]") does not end the sentence before it.
_FIRST_WORD = re.compile(r"(?:[“”\"‘’]+[ \t]+)?[^\s\[]*\w\S*\s")
# What an answer that opens with a marker ("- [1] Claim") may look like before the marker ends.
_MAY_OPEN_WITH_MARKER = re.compile(r"\s*(?:[-*•]\s*|\d+[.)]?\s*)?(?:\[[^\]\n]{0,20})?")


@dataclass
class Resolved:
    text: str  # the answer with renumbered, canonical markers
    citations: list[Citation]  # citations[i].n == i + 1
    dropped: list[int]  # numbers that pointed at no hit, in order of appearance
    unsupported: list[str]  # claim sentences that carry no valid citation


def resolve(text: str, hits: Sequence[Hit], repoint_citations: bool = False) -> Resolved:
    """Renumber valid markers by first appearance, drop the others, flag uncited claims."""
    cited = CitedText(hits, repoint_citations)
    cited.feed(text)
    cited.close()
    return cited.resolved()


class CitedText:
    """An answer's text, resolved sentence by sentence as its pieces arrive."""

    def __init__(self, hits: Sequence[Hit], repoint_citations: bool = True) -> None:
        self.hits = list(hits)
        self.repoint_citations = repoint_citations
        self.order: dict[int, int] = {}  # source number -> citation number
        self.dropped: list[int] = []
        self.text = ""  # what was given out so far: final
        self._pending = ""  # written, not resolved yet
        self._given = 0  # how much of _pending was given out already (it needed no change)
        self._marker_first: bool | None = None  # None until the opening shows the style

    def feed(self, piece: str) -> str:
        """The new final text that ``piece`` completes (often empty while a sentence runs)."""
        self._pending += piece
        if self._marker_first is None:
            if _MAY_OPEN_WITH_MARKER.fullmatch(self._pending):
                return ""
            self._marker_first = bool(OPENS_WITH_MARKER.match(self._pending))
        return self._give(self._complete())

    def close(self) -> str:
        """The rest: the last sentence is complete now."""
        if self._marker_first is None:
            self._marker_first = bool(OPENS_WITH_MARKER.match(self._pending))
        return self._give(len(self._pending.rstrip()), final=True)

    def resolved(self) -> Resolved:
        citations = [Citation(n=n, hit=self.hits[old - 1]) for old, n in self.order.items()]
        return Resolved(self.text, citations, self.dropped, unsupported_claims(self.text))

    def _complete(self) -> int:
        """How much of the pending text is whole sentences that no later piece can change.

        A sentence is whole once the next one is on a new line, or has a whole first
        word that is not a marker (a marker would still belong to the sentence before,
        and the first word decides whether "U.S." ended one).
        """
        pending = self._pending
        if self._marker_first:  # a claim ends where the next marker run or line starts
            starts = [m.start() for m in RUN_RE.finditer(pending) if pending[: m.start()].strip()]
            return max([*starts, *(m.start() for m in re.finditer("\n", pending))], default=0)
        spans = sentence_spans(pending, line_breaks=True)
        done = 0
        for (_, end), (start, _) in itertools.pairwise(spans):
            if not ("\n" in pending[end:start] or _FIRST_WORD.match(pending[start:])):
                break
            done = end
        return done

    def _give(self, end: int, final: bool = False) -> str:
        """Resolve ``_pending[:end]`` and give out what was not given yet, then the start
        of the next sentence up to its first ``[`` (no later step changes that part)."""
        out = ""
        if end:
            # a sentence given out whole before it was known to end leaves no "[" to change
            out = self._resolve(self._pending[:end], self._given)[self._given :]
            self._pending, self._given = self._pending[end:], max(0, self._given - end)
        if not (final or self._marker_first):
            cut = self._pending.find("[")
            safe = self._pending[: len(self._pending) if cut < 0 else cut].rstrip()
            # Not past the first sentence's end: an uncited claim gets its marker there.
            spans = sentence_spans(safe, line_breaks=True)
            safe = safe[: spans[0][1]] if len(spans) > 1 else safe
            safe = _HELD.sub("", safe)  # ", according to" waits to see if a marker follows
            out += safe[self._given :]
            self._given = max(self._given, len(safe))
        out = out if self.text else out.lstrip()
        out = out.rstrip() if final else out
        self.text += out
        return out

    def _resolve(self, text: str, shown: int = 0) -> str:
        """``text`` resolved; its first ``shown`` characters, given out already, stay."""
        if self._marker_first:
            text = markers_after_claims(text)  # "[1] Claim." -> "Claim. [1]"
        for move in (markers_as_words_to_end, according_to_markers):
            moved = move(text)
            text = moved if moved.startswith(text[:shown]) else text
        if self.repoint_citations:
            pointed = repoint(text, self.hits)
            if not pointed.startswith(text[:shown]):  # a marker would land in shown text
                pointed = repoint(text, self.hits, attribute=False)
            text = pointed
        text, dropped = renumber(text, len(self.hits), self.order)
        self.dropped += [n for n in dropped if n not in self.dropped]
        return text


def unsupported_claims(text: str) -> list[str]:
    """Sentences that make a claim (>= 4 words, not a refusal, question or heading) uncited."""
    return [s for s in split_sentences(text) if is_claim(s) and not MARKER_RE.search(s)]


# A marker run the model wrote as a word of its sentence: after a function word, before
# a lowercase one ("because [1] it should", "the result of [1] his messaging").
_FUNCTION_WORDS = "of|to|because|that|as|in|from|by|with|for|on|at|and|but|or|the|a|an|since|while"
_MARKER_AS_WORD = re.compile(
    rf"\b(?i:{_FUNCTION_WORDS})(?P<gap>[ \t]+)(?P<run>(?i:{RUN_RE.pattern}))(?=[ \t]+[a-z])"
)


def markers_as_words_to_end(text: str) -> str:
    """Move each marker run written as a word inside a sentence to the sentence's end.

    A run after a name ("UK [1] and France [2] lead it") cites that name and stays.

    >>> markers_as_words_to_end("It grew because [1] it should. Then [2] fell.")
    'It grew because it should. [1] Then [2] fell.'
    """
    for match in reversed(list(_MARKER_AS_WORD.finditer(text))):
        end = next(e for s, e in sentence_spans(text, line_breaks=True) if s <= match.start() < e)
        cut = match.start("gap")
        text = f"{text[:cut]}{text[match.end() : end]} {match['run']}{text[end:]}"
    return text


# "X, according to [1]." and "According to [1], X.": the marker used as the source's name.
# While streaming, a trailing comma and any start of "according to" wait for the next piece
# (_HELD), so the phrase can still be dropped when a marker follows it.
_ACCORDING = "according to"
_HELD = re.compile(
    r"(?:[,;]|[,;]?[ \t]*\b(?i:"
    + "|".join(re.escape(_ACCORDING[:n]) for n in range(len(_ACCORDING), 0, -1))
    + r"))[ \t]*$"
)
# "X, [1]." is the same slip without the words: the comma ends the claim, not the marker.
_ACCORDING_END = re.compile(
    r"[ \t]*(?:[,;]?[ \t]*\b(?i:according to)[ \t]+|[,;][ \t]*)"
    rf"(?P<run>(?i:{RUN_RE.pattern}))[ \t]*(?P<stop>[.!?])"
)
# A quotation mark left alone between two marker runs or after the last ("West. [2] “ [1]"):
# the model closed a quote it had already ended. Alone, it would read as a claim of its own.
_STRAY_QUOTE = re.compile(rf"(?<=\])[ \t]+[“”\"‘’]+(?=[ \t]*(?:{RUN_RE.pattern}|$))", re.I)
_ACCORDING_START = re.compile(
    rf"^(?P<indent>[ \t]*)According to[ \t]+(?P<run>(?i:{RUN_RE.pattern}))[ \t]*,[ \t]*(?=\w)"
)


def according_to_markers(text: str) -> str:
    """Move a marker written as the source's name ("according to [1]") to its sentence's end.

    >>> according_to_markers("NATO has 2,951 jets, according to [1]. According to [2], it grew.")
    'NATO has 2,951 jets. [1] It grew. [2]'
    >>> according_to_markers("The deal was signed in Doha, [1]. It held. [2] ” [1]")
    'The deal was signed in Doha. [1] It held. [2] [1]'
    >>> according_to_markers("According to the brigadier, panic spread [1].")
    'According to the brigadier, panic spread [1].'
    """
    text = _STRAY_QUOTE.sub("", _ACCORDING_END.sub(lambda m: f"{m['stop']} {m['run']}", text))
    for start, end in reversed(sentence_spans(text, line_breaks=True)):
        match = _ACCORDING_START.match(text[start:end])
        if match is None:
            continue
        body = text[start + match.end() : end].rstrip()
        run = "" if MARKER_RE.search(body) else f" {match['run']}"  # cited already: drop it
        claim = f"{match['indent']}{body[:1].upper()}{body[1:]}{run}"
        text = f"{text[:start]}{claim}{text[start + len(text[start:end].rstrip()) :]}"
    return text
