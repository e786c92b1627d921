"""Build or update an index from files: incremental, atomic, with a progress bar.

The store kind (``rag/index/store.py``) keeps the rows, the vectors and the lock; this
module decides what changes: which articles go, which are new, and their vectors.

Unchanged articles (same content hash) are not embedded again; a changed article
is a new article id (re-embedded alone); articles whose file is gone, or no longer
holds them, are removed — within the paths being indexed, so ``rag index a/`` then
``rag index b/`` keeps both. The articles of a file or folder that is there but cannot
be read now are kept, with a warning. New chunker settings re-chunk every article the
index holds, from the text it stored, not only those under the paths given.

Those decisions are the same for every *engine* (the :class:`Engine` role): an engine only
reads the files into a corpus and turns the articles it is given into embedded chunks for
the writer. :class:`LocalEngine` does both in this process (the default);
``rag.index.ray_engine`` does them as Ray Data stages (``rag.index.engines`` names them).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from rag.index.base import EmbeddedChunk, IndexSettings, StoreWriter
from rag.index.chunking import ChunkSettings, Fits, chunk_article
from rag.index.embedders import Embedder
from rag.index.pg_schema import redact
from rag.index.store import DEFAULT_STORE, locate, open_writer
from rag.index.windows import windows
from rag.ingest.files import Corpus, Skipped, load_corpus
from rag.types import Article, Chunk

log = logging.getLogger("rag")


@dataclass
class IndexReport:
    files: int
    articles: int
    chunks: int
    skipped: list[Skipped]
    seconds: float
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    rechunked: int = 0  # kept articles chunked again after a change of chunker settings
    embedded_chunks: int = 0
    duplicates: int = 0
    index_dir: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The fields ``rag index --json`` prints."""
        return {
            "files": self.files,
            "articles": self.articles,
            "chunks": self.chunks,
            "skipped": len(self.skipped),
            "seconds": round(self.seconds, 2),
        }


class Engine(Protocol):
    """How files become a corpus, and articles become embedded chunks in a writer."""

    def read(self, paths: Sequence[str | Path]) -> Corpus:
        """The articles of the files under ``paths``, each once, in file order."""
        ...

    def embed(self, writer: StoreWriter, articles: list[Article], settings: ChunkSettings) -> int:
        """Chunk and embed ``articles``, handing each to ``writer.add`` in the order given
        (so keys come out as the local engine gives them); the number of chunks embedded."""
        ...


@dataclass
class LocalEngine:
    """Everything in this process, one text batch after another (the default engine)."""

    embedder: Embedder
    progress: bool = True
    batch_size: int = 64

    def read(self, paths: Sequence[str | Path]) -> Corpus:
        return load_corpus(paths)

    def embed(self, writer: StoreWriter, articles: list[Article], settings: ChunkSettings) -> int:
        chunked = [(a, chunk_article(a, settings, _fits(self.embedder))) for a in articles]
        _embed_and_add(writer, chunked, self.embedder, self.progress, self.batch_size)
        return sum(len(chunks) for _, chunks in chunked)


def index_corpus(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    embedder: Embedder,
    settings: ChunkSettings | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
    batch_size: int = 64,
    store: str | None = None,
    engine: Engine | None = None,
) -> IndexReport:
    """Index ``paths`` into the store at ``index_dir`` (or the store URL ``store``,
    ``rag.index.store.locate``); ``engine`` reads, chunks and embeds (default: a
    :class:`LocalEngine` on ``embedder``, ``progress`` and ``batch_size``)."""
    started = time.perf_counter()
    where = locate(store, index_dir)
    settings = settings or ChunkSettings()
    engine = engine or LocalEngine(embedder, progress, batch_size)
    corpus = engine.read(paths)
    wanted = IndexSettings(embedder.name, embedder.dim, settings.to_dict())
    report = IndexReport(
        corpus.files,
        len(corpus.articles),
        0,
        corpus.skipped,
        0.0,
        duplicates=corpus.duplicates,
        index_dir=redact(where.location) if where.kind != DEFAULT_STORE else str(Path(index_dir)),
    )
    with open_writer(where.kind, where.location, wanted, rebuild) as writer:
        new, gone = _sync_articles(writer, corpus, [Path(p).resolve() for p in paths])
        stale = writer.stale()  # every kept article, after a change of chunker settings
        report.added, report.removed, report.rechunked = len(new), len(gone), len(stale)
        again = {a.article_id for a in stale}
        report.unchanged = sum(a.article_id not in again for a in corpus.articles) - len(new)
        report.embedded_chunks = engine.embed(writer, new + stale, settings)
        counts = writer.commit()
    report.articles, report.chunks = counts["articles"], counts["chunks"]
    report.seconds = time.perf_counter() - started
    return report


def _in_scope(source_abs: str, roots: list[Path]) -> bool:
    path = Path(source_abs)
    return any(path == root or root in path.parents for root in roots)


def _unreadable_now(source_abs: str, unreadable: list[Path]) -> bool:
    """Is the file, or a folder above it, there but unreadable on this run?"""
    if _in_scope(source_abs, unreadable):
        return True
    try:
        os.stat(source_abs)
    except (FileNotFoundError, NotADirectoryError):
        return False  # really gone
    except OSError:
        return True  # cannot tell: keep it
    return False


def _sync_articles(
    writer: StoreWriter, corpus: Corpus, roots: list[Path]
) -> tuple[list[Article], list[str]]:
    """Remove the articles gone from ``roots`` and record moved files; the articles to
    add and the ids removed. Articles of files that cannot be read now are kept."""
    wanted = {a.article_id for a in corpus.articles}
    existing = writer.sources()
    unreadable = [Path(s.path).resolve() for s in corpus.skipped if s.unreadable]
    missing = {aid: s for aid, s in existing.items() if aid not in wanted and _in_scope(s, roots)}
    kept = sorted({s for s in missing.values() if _unreadable_now(s, unreadable)})
    if kept:
        log.warning(
            "kept the articles of %d file(s) that cannot be read now: %s",
            len(kept),
            ", ".join(kept),
        )
    gone = [aid for aid, source in missing.items() if source not in kept]
    writer.remove(gone)
    new = [a for a in corpus.articles if a.article_id not in existing]
    for article in corpus.articles:  # a kept article may have moved file
        if article.article_id in existing:
            writer.move(article)
    return new, gone


def _fits(embedder: Embedder) -> Fits:
    return lambda text: embedder.token_count(text) <= embedder.max_tokens


def _embed_and_add(
    writer: StoreWriter,
    chunked: list[tuple[Article, list[Chunk]]],
    embedder: Embedder,
    progress: bool,
    batch_size: int,
) -> None:
    """Embed each chunk and its sentence windows, then hand them to the writer by article.

    The texts are embedded as one stream (a chunk, then its windows) in batches of
    ``batch_size``, so batches stay full across small articles.
    """
    split = [(a, [(c, windows(c.text)) for c in chunks]) for a, chunks in chunked]
    texts = [t for _, pairs in split for c, wins in pairs for t in (c.text, *wins)]
    vectors = _embedded(texts, embedder, progress, batch_size)
    empty = np.zeros((0, embedder.dim), dtype=np.float32)
    for article, pairs in split:
        ready = []
        for chunk, wins in pairs:
            vector = next(vectors)
            rows = [next(vectors) for _ in wins]
            ready.append(EmbeddedChunk(chunk, vector, np.stack(rows) if rows else empty))
        writer.add(article, ready)
    leftover = next(vectors, None)  # runs the generator to its end, which closes the bar
    assert leftover is None, "more vectors than texts"


SORT_GROUP = 16  # batches whose texts are sorted by length together


def _embedded(
    texts: list[str], embedder: Embedder, progress: bool, batch_size: int
) -> Iterator[np.ndarray]:
    """One vector per text, in order, embedded ``batch_size`` texts at a time.

    The stream alternates a chunk (~200 tokens) and its windows (~50): a batch of them
    is padded to its longest text, so most of its work would be padding. Texts are
    sorted by length within groups of ``SORT_GROUP`` batches, embedded, and put back in
    order (each text's vector does not depend on its batch-mates: the padding is masked).
    """
    bar = tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress or not texts)
    group = batch_size * SORT_GROUP
    for start in range(0, len(texts), group):
        part = texts[start : start + group]
        order = sorted(range(len(part)), key=lambda i: len(part[i]))
        vectors = np.zeros((len(part), embedder.dim), dtype=np.float32)
        for at in range(0, len(part), batch_size):
            rows = order[at : at + batch_size]
            vectors[rows] = embedder.embed([part[i] for i in rows])
            bar.update(len(rows))
        yield from vectors
    bar.close()
