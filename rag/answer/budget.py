"""Fit the prompt into the model's context, optionally trimming passages to their best sentences.

Prompt tokens are counted with the same offline cl100k_base as the chunker; the
local model's own tokenizer differs a little, hence ``SAFETY``.

>>> from rag.types import Hit
>>> hit = Hit("a:0", "a", "T", "s", "Cats purr. Drones fly far. Dogs bark.", 0, 37, 1.0)
>>> trim_hit(hit, "How far do drones fly?", max_tokens=5).text
'Drones fly far.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.answer.prompt import build_messages
from rag.index.bm25 import terms
from rag.llm.base import Message
from rag.text.sentences import sentence_spans
from rag.text.tokens import count_tokens
from rag.types import Hit

SAFETY = 0.9  # leave 10% for the difference between cl100k and the model's tokenizer


def prompt_tokens(messages: Sequence[Message]) -> int:
    return sum(count_tokens(m.content) + 4 for m in messages)  # ~4 tokens of chat framing each


def trim_hit(hit: Hit, question: str, max_tokens: int) -> Hit:
    """Keep the sentences of ``hit`` that share most words with the question, in text order.

    The citation still points at the whole chunk; only the prompt sees less.
    """
    spans = sentence_spans(hit.text)
    wanted = set(terms(question))
    ranked = sorted(range(len(spans)), key=lambda i: -len(wanted & set(terms(_at(hit, spans[i])))))
    keep: list[int] = []
    used = 0
    for i in ranked:
        cost = count_tokens(_at(hit, spans[i]))
        if keep and used + cost > max_tokens:
            continue
        keep.append(i)
        used += cost
    return replace(hit, text=" ".join(_at(hit, spans[i]) for i in sorted(keep)))


def _at(hit: Hit, span: tuple[int, int]) -> str:
    return hit.text[span[0] : span[1]]


def fit_hits(
    question: str,
    hits: Sequence[Hit],
    history: Sequence[Message],
    budget: int,
    trim_tokens: int | None = None,
) -> list[Hit]:
    """The hits to show the model: trimmed if asked, the lowest-ranked dropped until it fits."""
    shown = [trim_hit(h, question, trim_tokens) for h in hits] if trim_tokens else list(hits)
    limit = int(budget * SAFETY)
    while len(shown) > 1 and prompt_tokens(build_messages(question, shown, history)) > limit:
        # (the exit line is the longest instruction, so counting with it is the safe side)
        shown.pop()  # numbering stays valid: only the tail goes
    return shown
