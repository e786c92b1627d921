"""Dataclasses passed between layers: files -> articles -> chunks -> hits -> answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article, cleaned of page furniture.

    ``article_id`` is a hash of the cleaned text, so the same article found twice
    is indexed once and an edited article gets a new id.
    """

    article_id: str
    title: str
    text: str
    source: str  # path of the file it came from, as given to the indexer
    publisher: str = ""
    title_derived: bool = False  # True when the page showed no title and we made one
    published: str | None = None  # ISO date ("2025-03-07"), None when the page does not say
    author: str = ""
    url: str = ""  # the page's canonical URL, "" when it gives none


@dataclass(frozen=True)
class Chunk:
    """A contiguous passage of an article: ``article.text[start:end] == text``."""

    chunk_id: str  # "<article_id>:<ordinal>"
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with everything a citation needs."""

    chunk_id: str
    article_id: str
    title: str
    source: str
    text: str
    start: int
    end: int
    score: float  # the ranking score: fused RRF in hybrid and dense modes, BM25 in bm25 mode
    publisher: str = ""
    dense_score: float = 0.0  # cosine similarity to the query
    bm25_score: float = 0.0  # BM25 score (0 when the chunk shares no term with the query)
    published: str | None = None  # the article's ISO date, None when unknown
    author: str = ""
    url: str = ""

    @property
    def date(self) -> str:
        """The article's day for people (``2025-03-07``), or "date unknown": never a guess."""
        return self.published[:10] if self.published else "date unknown"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag search --json``, the chat API and ``rag ask --json``.

        >>> hit = Hit("a:0", "a", "T", "x.txt", "Text.", 0, 5, 0.5, published="2025-03-07")
        >>> hit.to_dict()["chunk_id"], hit.to_dict()["published"]
        ('a:0', '2025-03-07')
        """
        keys = ("chunk_id", "article_id", "title", "source", "text", "score", "publisher")
        return {key: getattr(self, key) for key in (*keys, "published", "author", "url")}


@dataclass(frozen=True)
class Citation:
    """A source number in an answer, mapped to the chunk it points at."""

    n: int
    hit: Hit


@dataclass
class Answer:
    """What ``kb.ask`` returns.

    ``text`` uses the renumbered citation markers; ``citations[i].n == i + 1``.
    """

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    sources: list[Hit]  # every hit shown to the backend, in prompt order
    backend: str
    timings: dict[str, float] = field(default_factory=dict)
    query: str = ""  # the standalone query used for retrieval
    dropped_citations: list[int] = field(default_factory=list)  # numbers pointing nowhere
    unsupported: list[str] = field(default_factory=list)  # claim sentences without a citation
    incomplete: bool = False  # the backend stopped before it was done
    tokens: int = 0  # tokens the backend generated (0 when it does not say)
    note: str = ""  # shown beside the answer, e.g. why it quotes the articles instead
    p_answerable: float | None = None  # the model's P("the sources answer"), when asked

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``rag ask --json`` and the chat's ``/ask`` endpoint.

        >>> refusal = Answer("Why?", "The articles do not say.", [], True, [], "extractive")
        >>> refusal.to_dict()["abstained"]
        True
        """
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [{"n": c.n, **c.hit.to_dict()} for c in self.citations],
            "backend": self.backend,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "incomplete": self.incomplete,
            "unsupported": self.unsupported,
            "dropped_citations": self.dropped_citations,
            "note": self.note,
            "p_answerable": self.p_answerable,
        }
