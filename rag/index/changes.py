"""Small changes to a live index: add these files, remove that article (the chat's Articles panel).

``rag index`` syncs whole folders (:mod:`rag.index.indexer`); these change only what they
name, with the index's own embedder and chunker settings, in one writer batch: readers
see the index as it was until the commit, then all of it. Each file gets a
:class:`FileResult` saying what became of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.index.base import IndexSettings
from rag.index.chunking import ChunkSettings, chunk_article
from rag.index.embedders import Embedder

# The one path from articles to stored vectors, shared with `rag index` so an added file
# gets exactly the chunks and vectors a re-index would give it.
from rag.index.indexer import _embed_and_add, _fits
from rag.index.store import open_writer
from rag.ingest.files import iter_files, load_corpus
from rag.types import Article

Progress = Callable[[float, str], None]  # (share done, what is being done)
INDEXED, SKIPPED = "indexed", "skipped"


@dataclass(frozen=True)
class FileResult:
    """What became of one file: indexed (with its new articles) or skipped, and why."""

    path: str
    status: str  # INDEXED or SKIPPED
    reason: str = ""  # why skipped; for an indexed file, a note (an article already held)
    titles: tuple[str, ...] = ()  # the articles it added
    chunks: int = 0  # passages it added


def add_files(
    paths: Sequence[str | Path],
    location: str | Path,
    embedder: Embedder,
    settings: IndexSettings,
    store: str,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Index the articles the index lacks of each file (folders: each file under them);
    one result per file, in order."""
    files = list(iter_files(paths))  # a missing path is an InputError before any writing
    report = progress or (lambda done, what: None)
    chunker = ChunkSettings(**settings.chunker)
    with open_writer(store, location, settings) as writer:
        held = set(writer.sources())
        results: dict[int, FileResult] = {}
        todo: list[tuple[int, list[Article], int]] = []
        for i, path in enumerate(files):
            report(0.1 * i / len(files), f"reading file {i + 1} of {len(files)}")
            skipped, new, total = _read(path, held)
            if skipped is not None:
                results[i] = skipped
            else:
                todo.append((i, new, total))
                held.update(a.article_id for a in new)
        for step, (i, new, total) in enumerate(todo):
            report(0.1 + 0.8 * step / len(todo), f"embedding file {step + 1} of {len(todo)}")
            chunked = [(a, chunk_article(a, chunker, _fits(embedder))) for a in new]
            _embed_and_add(writer, chunked, embedder, False, 64)
            note = f"{total - len(new)} of its {total} articles were already in the index"
            titles = tuple(a.title for a in new)
            chunks = sum(len(c) for _, c in chunked)
            results[i] = FileResult(str(files[i]), INDEXED, note if total > len(new) else "",
                                    titles, chunks)  # fmt: skip
        if todo:
            report(0.9, "saving the index")
            writer.commit()
    return [results[i] for i in range(len(files))]


def _read(path: Path, held: set[str]) -> tuple[FileResult | None, list[Article], int]:
    """(a skipped result, [], 0) or (None, the file's articles the index lacks, all of them)."""
    corpus = load_corpus([path])
    if corpus.skipped:
        return FileResult(str(path), SKIPPED, corpus.skipped[0].reason), [], 0
    new = [a for a in corpus.articles if a.article_id not in held]
    if not new:
        return FileResult(str(path), SKIPPED, "duplicate: already in the index"), [], 0
    return None, new, len(corpus.articles)


def remove_article(
    article_id: str, location: str | Path, settings: IndexSettings, store: str
) -> str:
    """Remove one article; the absolute path of the file it came from."""
    with open_writer(store, location, settings) as writer:
        sources = writer.sources()
        if article_id not in sources:
            raise InputError(f"no article {article_id!r} in the index at {location}")
        writer.remove([article_id])
        writer.commit()
    return sources[article_id]
