"""Words: the one tokeniser, stopword list and overlap share, for retrieval, checks and the UI.

>>> terms("Russia's drone strikes were striking")
['russia', 'dron', 'strik', 'strik']
>>> norm("“Wasn’t dead,” 2,400 and 4.7%!")
'wasnt dead 2400 and 47%'
>>> content_words("The envoy called the coalition a posture and a pose [1].")
['envoy', 'called', 'coalition', 'posture', 'pose']
>>> overlap(["envoy", "pose"], {"pose"}), overlap([], {"pose"})
(0.5, 0.0)
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from rag.text.markers import strip_markers

# Function words: they carry no claim and match no topic.
_STOPWORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours out over own same she should so some such than that thats the their
    theirs them then there these they this those through to too under until up very was we
    were what when where which while who whom whose why will with would you your yours s t
    dont isnt wasnt didnt doesnt cant wont"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# Words every question and article about the news is full of: no help in finding a passage.
_QUERY_NOISE_TEXT = "mr mrs ms many much say said says tell told according article articles news"
_QUERY_NOISE = frozenset(_QUERY_NOISE_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lowercased words and numbers, apostrophes dropped: ``Russia's`` -> ``['russia']``."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<=\w)'(?:s\b)?", "", text)  # possessives: russia's, soldiers'; don't
    return re.findall(r"[a-z0-9]+", text)


def terms(text: str) -> list[str]:
    """Content words, lowercased, stemmed: ``"Russia's strikes"`` -> ``['russia', 'strik']``."""
    return [stem(w) for w in tokens(text) if w not in STOPWORDS and w not in _QUERY_NOISE]


def norm(text: str) -> str:
    """Lowercase, delete every char that is not a letter, digit, space or %, collapse spaces.

    The evaluation's answer-matching rule: deleting punctuation (rather than turning it
    into a space) makes ``2,400`` match ``2400`` and ``C-17`` match ``C17``;
    eval/questions.jsonl was written for this rule.
    """
    kept = "".join(c for c in text.lower() if c.isalnum() or c.isspace() or c == "%")
    return " ".join(kept.split())


def content_words(text: str) -> list[str]:
    """The :func:`norm` words of ``text``, in order, minus stopwords and citation markers."""
    # Markers go first: "pose [1]" would otherwise normalise to "pose 1".
    return [w for w in norm(strip_markers(text)).split() if w not in STOPWORDS]


def overlap(words: Sequence[str] | Collection[str], found: Collection[str]) -> float:
    """The share of ``words`` that are in ``found``: 0.0 when there are no words.

    Nothing claimed is nothing supported; a caller for which an empty claim is
    trivially supported says so where it calls. Pass a set to count each word once.
    """
    if not words:
        return 0.0
    return sum(w in found for w in words) / len(words)


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
