"""Retrieval for a follow-up in a chat: the topic from the turn before, the focus from its words.

A follow-up ("And which are out?") is searched, first, joined with the previous
question (:func:`rag.answer.question.standalone_query`), so the retriever sees the
topic. But that joined query is mostly the previous question: it finds the previous
answer's passages again, and the follow-up's own few words ("out") weigh too little to
lift the passage they point at ("Who's out? Poland, Spain and Germany are not
expected to send troops"; 22nd for the joined query). So a second search takes the
follow-up's own words alone, inside the article the previous question found first
(the topic), and the two rankings are fused (reciprocal rank, as
:mod:`rag.index.retrieval` fuses its rankers). Measured on the eval's eight
follow-ups and the chat example (evidence rank, joined -> fused): the chat example
22 -> 4, q111 4 -> 2, q139 7 -> 5, the other six unchanged (five at 1, one at 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.answer import publishers
from rag.answer.question import previous_question, standalone_query
from rag.index.retrieval import Searcher, SearchOptions, fuse_hits
from rag.llm.base import Message
from rag.types import Hit


def retrieve(
    question: str, turns: Sequence[Message], retriever: Searcher, options: SearchOptions
) -> tuple[str, list[Hit]]:
    """The query the question stands for, and its hits (``options.k`` of them)."""
    query = standalone_query(question, turns)
    previous = previous_question(turns) or ""
    if query == question or not previous.strip():  # not a follow-up, or nothing before it
        return query, publishers.search(retriever, query, options, question)
    topic = retriever.search(previous, replace(options, k=1, mmr=None))
    wide = replace(options, k=options.candidates)
    joined = publishers.search(retriever, query, wide, question)
    if not topic:  # the filters leave nothing the previous question could find
        return query, joined[: options.k]
    own = retriever.search(question, replace(wide, article=topic[0].article_id))
    # A hit keeps its scores from the joined query where it has them (the abstain policy
    # reads them); the fused score is its ``score``.
    return query, fuse_hits([joined, own], options.k, options.rrf_k)
