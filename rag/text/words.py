"""Word normalisation shared by BM25 and the extractive answerer.

>>> terms("Russia's drone strikes were striking")
['russia', 'dron', 'strik', 'strik']
"""

from __future__ import annotations

import re

_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their theirs
    them then there these they this those through to too under until up very was we were
    what when where which while who whom whose why will with would you your yours s t dont
    isnt wasnt didnt doesnt cant wont mr mrs ms many much say said says tell told according
    article articles news"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def terms(text: str) -> list[str]:
    """Content words, lowercased, stemmed: ``"Russia's strikes"`` -> ``['russia', 'strik']``."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<=\w)'(?:s\b)?", "", text)  # possessives: russia's, soldiers'; don't
    words = re.findall(r"[a-z0-9]+", text)
    return [stem(w) for w in words if w not in _STOPWORDS]


_SUFFIXES = (
    ("ies", "y"),
    ("sses", "ss"),
    ("ments", ""),
    ("ment", ""),
    ("tions", ""),
    ("tion", ""),
    ("ing", ""),
    ("ed", ""),
    ("s", ""),
)


def stem(word: str) -> str:
    """A crude suffix stripper, the same for question and text: strikes, striking -> strik."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] not in "lsz":
                word = word[:-1]  # stopped -> stop
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word
