"""The store role: where chunks, their vectors and their words live between indexing and search.

Two protocols, one per side: :class:`Store` is what the retriever reads,
:class:`StoreWriter` what the indexer writes through. A store kind
(``rag/index/store.py``: ``STORES``) opens both: FAISS + SQLite + BM25 files in a
directory (``rag/index/faiss_store.py``, the default), or PostgreSQL + pgvector at a URL
(``rag/index/pg_store.py``).

Chunks are known to a store by an integer *key* (FAISS ids in the FAISS store);
rankings are ``(key, score)`` pairs, best first.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import IndexMismatch
from rag.types import Article, Chunk

log = logging.getLogger("rag")

Ranking = list[tuple[int, float]]


@dataclass(frozen=True)
class IndexSettings:
    """What an index was made with; a store refuses a reader or writer with other settings."""

    embedder: str
    dim: int
    chunker: dict[str, int]


@dataclass(frozen=True)
class ChunkFilter:
    """Which articles' chunks a search may return: each condition given must hold, and one
    left out (``None`` or ``""``) holds for every article.

    - ``article``: the article id exactly, or any part of its title, in any case
      (``"peace talks"`` finds "Peace talks": people type titles from memory);
    - ``source``: the source path exactly, or any ending of it (``"talks.txt"``,
      ``"news/talks.txt"``, even ``"alks.txt"`` match ``/data/news/talks.txt``);
    - ``since``, ``until``: ISO dates, both inclusive: published on or after ``since``,
      on or before ``until``; an article of unknown date matches neither.

    Otherwise texts match character for character: case counts in ids and sources (paths
    are case-sensitive), and ``%`` or ``_`` are plain characters, not wildcards. Every store
    kind keeps these meanings.

    >>> ChunkFilter().empty, ChunkFilter(source="talks.txt").empty
    (True, False)
    """

    article: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None

    @property
    def empty(self) -> bool:
        """True when no condition is given: the filter keeps every chunk."""
        return not any(asdict(self).values())

    def conditions(self, sql: Mapping[str, str]) -> str:
        """`` AND <condition>`` for each field given, from a store's SQL condition per field
        (its parameters named after the fields: the store passes ``asdict(filter)``).

        >>> sql = {"article": "id = :article", "since": "day >= :since"}
        >>> ChunkFilter(since="2025-03-01").conditions(sql)
        ' AND day >= :since'
        """
        return "".join(f" AND {sql[name]}" for name, value in asdict(self).items() if value)


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as a store gives it back, with what a citation needs of its article."""

    key: int
    chunk: Chunk
    title: str
    source: str
    publisher: str
    published: str | None = None  # ISO date
    author: str = ""
    url: str = ""


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk ready to store: its vector and one vector per sentence window
    (``rag.index.windows``), rows in window order."""

    chunk: Chunk
    vector: np.ndarray
    windows: np.ndarray


class Store(Protocol):
    """One live index, read-only: vector, window and BM25 rankings, filters, chunk rows."""

    location: str  # a directory, a database URL: shown in messages

    @property
    def settings(self) -> IndexSettings:
        """The embedder and chunker the index was made with."""
        ...

    def __len__(self) -> int: ...  # chunks held

    def dense(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        """The ``n`` chunks closest to ``query`` by cosine (only ``allowed`` keys if given)."""
        ...

    def dense_windows(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        """Chunks ranked by their best sentence window's cosine to ``query``."""
        ...

    def lexical(self, query: str, n: int, allowed: set[int] | None = None) -> Ranking:
        """The ``n`` best chunks by BM25, those scoring above zero only."""
        ...

    def knows(self, term: str) -> bool:
        """Does any chunk hold this stemmed term (``rag.text.words.terms``)?"""
        ...

    def vector(self, key: int) -> np.ndarray: ...

    def chunks(self, keys: Sequence[int]) -> dict[int, StoredChunk]: ...

    def lead(self, article_id: str, n: int) -> list[int]:
        """Keys of an article's first ``n`` chunks, in article order."""
        ...

    def ids_where(self, filter: ChunkFilter) -> set[int]:
        """Keys of the chunks of the articles that match ``filter`` (every key when it is
        empty)."""
        ...

    def articles(self) -> list[dict[str, Any]]:
        """One row per article (article_id, title, source, publisher, title_derived,
        published, author, url, chunks), by source then insertion order."""
        ...

    def close(self) -> None: ...


class StoreWriter(Protocol):
    """One batch of changes to an index; readers see none of it before :meth:`commit`."""

    def sources(self) -> dict[str, str]:
        """Article id -> the absolute path of the file it was read from, for every article."""
        ...

    def remove(self, article_ids: Sequence[str]) -> None: ...

    def move(self, article: Article) -> None:
        """Record that a stored article now comes from ``article.source``."""
        ...

    def stale(self) -> list[Article]:
        """Articles held without chunks, to chunk again: every article kept across a
        change of chunker settings (their text is in the store)."""
        ...

    def add(self, article: Article, chunks: Sequence[EmbeddedChunk]) -> None: ...

    def commit(self) -> dict[str, int]:
        """Make the changes live; the counts of ``articles`` and ``chunks`` held after."""
        ...


def rebuild_hint(location: str | Path) -> str:
    """The command that rebuilds the index at ``location`` (not the default ``./index``):
    a folder, or a store URL (shown without its password).

    >>> rebuild_hint("my index")
    "rebuild it with: rag index PATH --index 'my index' --rebuild"
    >>> rebuild_hint("postgresql://ann@db/news")
    'rebuild it with: rag index PATH --store postgresql://ann@db/news --rebuild'
    """
    option = "--store" if "://" in str(location) else "--index"
    return f"rebuild it with: rag index PATH {option} {shlex.quote(str(location))} --rebuild"


def check_embedder(made: IndexSettings, name: str, dim: int, location: str) -> None:
    if made.embedder != name or made.dim != dim:
        raise IndexMismatch(
            f"the index at {location} was made with embedder {made.embedder!r} "
            f"(dim {made.dim!r}), not {name!r} (dim {dim!r}): {rebuild_hint(location)}, "
            "or load it with that embedder"
        )


def keeps_previous(made: IndexSettings | None, wanted: IndexSettings, location: str) -> bool:
    """Can a writer keep the chunks the index holds? No when there is nothing or they
    were chunked otherwise (the writer then keeps the articles, to chunk every one
    again); another embedder is an error."""
    if made is None:
        return False
    check_embedder(made, wanted.embedder, wanted.dim, location)
    if made.chunker != wanted.chunker:
        log.warning(
            "chunker settings changed from %s to %s: re-chunking every article in %s",
            made.chunker,
            wanted.chunker,
            location,
        )
        return False
    return True
