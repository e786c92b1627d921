"""The refusal sentence, and how to recognise a reply that refuses in other words.

>>> is_refusal(REFUSAL), is_refusal("Ukraine does not stop; it makes 500 a month [1].")
(True, False)
"""

from __future__ import annotations

import re

from rag.text.markers import MARKER_RE, strip_markers

REFUSAL = "The articles do not say."

_SOURCE_NOUN = r"(?:articles?|sources?|texts?|context|passages?|documents?|excerpts?)"
_REFUSAL_PATTERNS = [
    # "The articles do not say", "the sources provided don't mention", "the text does not specify"
    _SOURCE_NOUN + r"\b[^.]{0,40}?\b(?:do|does|did|can|could)(?: not|n't|not) "
    r"(?:say|mention|contain|provide|include|state|specify|discuss|address|cover|give|answer"
    r"|tell|explain|indicate|reveal|report)\b",
    r"\bnot (?:mentioned|stated|specified|provided|given|found|covered|discussed|available"
    r"|included|addressed|answered|reported)\b(?: \w+){0,3} (?:in|by) the "
    r"(?:provided |given )?" + _SOURCE_NOUN,
    r"\bnot (?:in|from) the (?:provided |given )?" + _SOURCE_NOUN,
    r"\b(?:i|we) (?:cannot|can't|can not|could not|couldn't|am unable to|was unable to"
    r"|am not able to|do not|don't) (?:find|answer|determine|locate|tell|know|see|say)\b",
    r"(?:^|\b(?:there (?:is|are|was)|there's|contains?|provides?|gives?|offers?|includes?"
    r"|have|has) )no (?:relevant |specific |such |clear |direct )?"
    r"(?:information|mention|details?|data|answer|indication|evidence)\b",
    r"\b(?:cannot|can't|can not) be (?:determined|answered|found|confirmed)\b",
    r"^(?:it |they |this |that )?(?:do|does)(?: not|n't) say\b",
    r"\bunable to (?:answer|find|determine)\b",
    r"^(?:unknown|not (?:stated|mentioned|specified|known))\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS))


def is_refusal(text: str) -> bool:
    """True when the reply says the sources do not hold the answer.

    A reply that cites a source is an answer (perhaps a partial one) unless it is
    exactly :data:`REFUSAL`: "Lord West did not say when [2]." is not a refusal.

    >>> is_refusal("I cannot find this in the sources."), is_refusal("Troops will not go.")
    (True, False)
    """
    plain = _normalise(strip_markers(text))
    if plain in ("", _normalise(REFUSAL)):
        return plain != ""
    if MARKER_RE.search(text):
        return False
    return _REFUSAL_RE.search(plain) is not None


def is_claim(sentence: str) -> bool:
    """True for a sentence that states something a source must back: four words or more,
    not a question, a heading ending in ":" or a refusal."""
    plain = strip_markers(sentence).strip()
    if len(plain.split()) < 4 or plain.endswith(("?", ":")):
        return False
    return not is_refusal(plain)


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t\"'“”*_`").strip()
