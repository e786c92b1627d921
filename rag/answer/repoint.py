"""Point each cited claim at the shown passage that holds its words.

A small model often quotes one passage and cites another: with five sources it
tends to write ``[1]`` whatever it copied from. Before citations are renumbered,
each claim sentence whose cited passages hold less than ``SUPPORTED`` of its
content words is re-pointed at the shown passage that holds the most of them,
if that one clearly does (``SUPPORTED`` or more, and ``MARGIN`` more than the cited
ones). A claim no passage supports keeps its citation: nothing is invented, and
the evaluation still counts it as unsupported.

A claim the model left uncited is given the citation of the shown passage that
holds the most of its words, by the same rule (``SUPPORTED`` or more; the first
such passage on a tie), after its closing punctuation, where the claim ends; a
claim no passage holds stays uncited and is reported as unsupported.

>>> from rag.types import Hit
>>> texts = ["Starmer hosted talks in London.", 'Witkoff called it "a posture and a pose".']
>>> hits = [Hit(f"a:{i}", "a", "T", "x.txt", t, 0, len(t), 1.0) for i, t in enumerate(texts)]
>>> text = '[1] Witkoff called it "a posture and a pose".'
>>> repoint(text, hits)
'[2] Witkoff called it "a posture and a pose".'
>>> text = "Starmer hosted talks [1]. Water boils at 100 degrees [2]."
>>> repoint(text, hits)
'Starmer hosted talks [1]. Water boils at 100 degrees [2].'
>>> repoint("Starmer hosted talks in London. Water boils at 100 degrees.", hits)
'Starmer hosted talks in London. [1] Water boils at 100 degrees.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text.markers import MARKER_RE, parse_numbers, strip_markers
from rag.text.refusals import is_claim
from rag.text.sentences import split_sentences
from rag.text.words import overlap, terms
from rag.types import Hit

SUPPORTED = 0.6  # share of a claim's content words that a passage must hold
MARGIN = 0.2  # how much better the other passage must be than the cited ones


def support(claim: str, passage: str) -> float:
    """The share of the claim's content words found in the passage (1.0 for none)."""
    words = set(terms(strip_markers(claim)))
    if not words:
        return 1.0  # nothing to re-point: the claim keeps the citation it has
    return overlap(words, set(terms(passage)))


def repoint(
    text: str,
    hits: Sequence[Hit],
    sentences: Sequence[str] | None = None,
    attribute: bool = True,
) -> str:
    """``text`` with each misattributed claim's markers replaced by the right source number,
    and (with ``attribute``) each uncited claim cited where one passage holds it.

    ``sentences`` are the sentences of ``text`` in order; by default those that
    :func:`rag.text.sentences.split_sentences` finds, which keep a trailing marker.
    """
    out, pos = [], 0
    for sentence in split_sentences(text) if sentences is None else sentences:
        at = text.find(sentence, pos)
        if at < 0:  # re-joined differently by the splitter: leave it as it is
            continue
        out += [text[pos:at], _repoint_sentence(sentence, hits, attribute)]
        pos = at + len(sentence)
    out.append(text[pos:])
    return "".join(out)


def _repoint_sentence(sentence: str, hits: Sequence[Hit], attribute: bool) -> str:
    numbers = [n for n in parse_numbers(sentence) if 1 <= n <= len(hits)]
    if not numbers:  # uncited, or citing only sources that were not shown
        uncited = attribute and not MARKER_RE.search(sentence)
        return _attribute(sentence, hits) if uncited else sentence
    cited = max(support(sentence, hits[n - 1].text) for n in numbers)
    if cited >= SUPPORTED:
        return sentence
    scores, best = _best(sentence, hits)
    if scores[best] < SUPPORTED or scores[best] - cited < MARGIN:
        return sentence
    # The first marker now names the passage; the others go, with the blanks before them
    # (only blanks next to a marker change, so the text before it can already be shown).
    first = MARKER_RE.search(sentence)
    assert first is not None  # the sentence cites a valid number
    rest = re.sub(r"[ \t]*" + MARKER_RE.pattern, "", sentence[first.end() :], flags=re.I)
    return f"{sentence[: first.start()]}[{best + 1}]{rest}"


def _attribute(sentence: str, hits: Sequence[Hit]) -> str:
    """An uncited claim with the marker of the passage that holds it, else as it is.

    The marker goes after the whole sentence, closing punctuation included, so the
    words before it, which a stream may have shown already, do not change.
    """
    if not hits or not is_claim(sentence):
        return sentence
    scores, best = _best(sentence, hits)
    if scores[best] < SUPPORTED:
        return sentence
    return f"{sentence} [{best + 1}]"


def _best(sentence: str, hits: Sequence[Hit]) -> tuple[list[float], int]:
    """Each passage's support for the claim, and the first passage that supports it most."""
    scores = [support(sentence, hit.text) for hit in hits]
    return scores, max(range(len(hits)), key=lambda i: (scores[i], -i))
