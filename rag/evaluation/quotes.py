"""Exact-quote support: do the passages hold the claim's words in the claim's order?

A second citation-support rule, independent of the word-overlap rule of
:mod:`rag.evaluation.support` and of the re-pointing in :mod:`rag.answer.repoint`: both
of those count which of the claim's words occur anywhere in the passage, as a set.
This rule looks for quotations instead. A claim (markers stripped) is
*quote-supported* by passages when

- every number and every capitalised name of the claim occurs in them ("10,000 troops"
  fails against "2,400 troops" whatever else matches; "Yes", "According", "Mr" and
  the like are not names), and
- runs of ``MIN_RUN`` or more of its content words (``rag.text.words.content_words``: stopwords
  dropped, order kept), each found consecutively and in the same order in one passage,
  cover at least ``MIN_QUOTED`` of its content words. The runs are difflib's longest
  common block, taken again and again on what is left of the claim, so two clauses
  may come in either order, but the words inside a run may not.

The normalisation is light: the eval's ``norm`` (case folded; curly quotes, dashes,
apostrophes and thousands separators deleted; whitespace collapsed) and a possessive
"'s" dropped; nothing is stemmed, no synonym counts. So a true paraphrase fails: the
rule is strict on purpose, and it parts from the word-overlap rule exactly where a
claim reuses the passage's words but not its phrasing.

``MIN_QUOTED`` and ``MIN_RUN`` were chosen on the 140 distinct cited claims of three
local runs (eval/README.md, "Exact-quote support"). 103 pass the fact check and quote
at least a quarter of their words; the 40 of those under 0.95 were read by hand (6
are wrong), the rest are copied sentences. There a share of 0.5 misjudges 6 claims
(2 true paraphrases fail, the 4 wrong ones with a changed word or agent pass), 0.6
misjudges 8 and 0.7 misjudges 11; runs of 3 words misjudge 9 or more at any share, and
runs of 1 word would make this the bag-of-words rule again.

>>> passage = "Steve Witkoff called the coalition “a posture and a pose”; 2,400 troops left."
>>> quote_supports('Witkoff called the coalition "a posture and a pose" [1].', [passage])
True
>>> quote_supports("Witkoff dismissed the alliance as mere posturing.", [passage])  # true, fails
False
>>> quote_supports("Witkoff called the coalition a posture and a pose; 10,000 troops left.",
...                [passage])  # the words match, the number does not
False
>>> quoted_share("A posture and a pose, Witkoff called the coalition.", [passage])
1.0
>>> quoted_share("The coalition called Witkoff a pose.", [passage])  # the same words, reordered
0.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from rag.text.markers import strip_markers
from rag.text.words import content_words, norm

MIN_QUOTED = 0.5  # share of the claim's content words inside quoted runs
MIN_RUN = 2  # a shorter run is a shared word, not a quotation
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")  # "Russia’s" -> "Russia"
_BULLET = re.compile(r"[-*•]|\d+[.)]")  # a list item's marker, not a fact
# Capitalised for their place or for courtesy, not names: "Yes, ...", "According to Mr X".
_NOT_NAMES = frozenset(
    ["yes", "according", "instead", "however", "indeed", "also", "mr", "mrs", "ms", "dr", "sir"]
)
_GAP = "\x00"  # put between passages: no claim word equals it, so no run crosses it


def quoted_share(claim: str, passages: Sequence[str]) -> float:
    """Share of the claim's content words inside runs of ``MIN_RUN`` or more words that
    one of the passages holds verbatim (0.0 for a claim without content words)."""
    a = _words(claim)
    if not a:
        return 0.0
    b = [w for p in passages for w in [*_words(p), _GAP]]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    shortest = min(MIN_RUN, len(a))  # a claim of one content word ("Doha [3].") is its run
    covered, todo = 0, [(0, len(a))]
    while todo:
        lo, hi = todo.pop()
        block = matcher.find_longest_match(lo, hi, 0, len(b))
        if block.size >= shortest:
            covered += block.size
            todo += [(lo, block.a), (block.a + block.size, hi)]
    return covered / len(a)


def key_facts(claim: str) -> list[str]:
    """The claim's numbers and capitalised names, normalised ("Yes", "According" are not names).

    >>> key_facts("According to Prof Clarke, Poland sent 2,400 troops in August [1].")
    ['prof', 'clarke', 'poland', '2400', 'august']
    """
    tokens = _POSSESSIVE.sub("", strip_markers(claim)).split()
    if tokens and _BULLET.fullmatch(tokens[0]):
        tokens = tokens[1:]
    facts = []
    for token in tokens:
        word = norm(token)
        if word and content_words(word) and word not in _NOT_NAMES:
            first = next(c for c in token if c.isalnum())
            if first.isdigit() or first.isupper():
                facts.append(word)
    return facts


def _words(text: str) -> list[str]:
    return content_words(_POSSESSIVE.sub("", text))


def quote_supports(claim: str, passages: Sequence[str]) -> bool:
    """Do these passages (together) quote-support the claim? See the module docstring."""
    if not passages:
        return False
    if missing_facts(claim, passages):
        return False
    return quoted_share(claim, passages) >= MIN_QUOTED


def missing_facts(claim: str, passages: Sequence[str]) -> list[str]:
    """The claim's key facts that none of the passages holds (as a word)."""
    held = set(norm(_POSSESSIVE.sub("", "\n".join(passages))).split())
    return [fact for fact in key_facts(claim) if fact not in held]
