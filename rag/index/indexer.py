"""Build or update an index from files: incremental, atomic, with a progress bar.

Unchanged articles (same content hash) are not embedded again; a changed article
is a new article id (re-embedded alone); articles whose file is gone, or no longer
holds them, are removed — within the paths being indexed, so ``rag index a/`` then
``rag index b/`` keeps both.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from rag.index.atomic import fsync_dir, sha256_file, write_atomic, write_text_atomic
from rag.index.bm25 import BM25
from rag.index.chunking import ChunkSettings, Fits, chunk_article
from rag.index.embedders import Embedder
from rag.errors import IndexMismatch, InputError
from rag.ingest.files import Corpus, Skipped, load_corpus
from rag.index.store import MANIFEST, SCHEMA, Manifest, check_embedder, generation_files
from rag.types import Article, Chunk
from rag.index.windows import windows

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


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One writer at a time per index directory."""
    with open(directory / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InputError(
                f"another 'rag index' is writing {directory}; try again later"
            ) from exc
        yield


def index_corpus(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    embedder: Embedder,
    settings: ChunkSettings | None = None,
    *,
    rebuild: bool = False,
    progress: bool = True,
    batch_size: int = 64,
) -> IndexReport:
    started = time.perf_counter()
    settings = settings or ChunkSettings()
    corpus = load_corpus(paths)
    directory = Path(index_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        old = None if rebuild or not (directory / MANIFEST).is_file() else Manifest.read(directory)
        if old is not None:
            check_embedder(old, embedder.name, embedder.dim, directory)
            if old.chunker != settings.to_dict():
                log.warning("chunker settings changed: re-chunking every article")
                old = None
        report = _write_generation(
            directory, old, corpus, paths, embedder, settings, progress, batch_size
        )
    report.seconds = time.perf_counter() - started
    return report


def _in_scope(source_abs: str, roots: list[Path]) -> bool:
    path = Path(source_abs)
    return any(path == root or root in path.parents for root in roots)


def _write_generation(
    directory: Path,
    old: Manifest | None,
    corpus: Corpus,
    paths: Sequence[str | Path],
    embedder: Embedder,
    settings: ChunkSettings,
    progress: bool,
    batch_size: int,
) -> IndexReport:
    generation = (old.generation if old else 0) + 1
    files = generation_files(generation)
    db_path = directory / files["chunks"]
    vectors = Vectors(
        _open_vectors(directory, old, "vectors", embedder.dim),
        _open_vectors(directory, old, "windows", embedder.dim),
    )
    report = IndexReport(
        corpus.files,
        len(corpus.articles),
        0,
        corpus.skipped,
        0.0,
        duplicates=corpus.duplicates,
        index_dir=str(directory),
    )

    def write_db(tmp: Path) -> None:
        if old:
            shutil.copyfile(directory / old.files["chunks"], tmp)
        db = sqlite3.connect(tmp)
        try:
            db.executescript(SCHEMA)
            _sync(
                db,
                vectors,
                corpus,
                [Path(p).resolve() for p in paths],
                embedder,
                settings,
                report,
                progress,
                batch_size,
            )
            db.commit()
            report.chunks = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            report.articles = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            bm25 = BM25.build(db.execute("SELECT faiss_id, text FROM chunks ORDER BY faiss_id"))
        finally:
            db.close()
        write_atomic(directory / files["bm25"], bm25.save)

    write_atomic(db_path, write_db)
    for role, index in (("vectors", vectors.chunks), ("windows", vectors.windows)):
        write_atomic(directory / files[role], partial(_write_index, index))
    manifest = Manifest(
        embedder=embedder.name,
        dim=embedder.dim,
        chunker=settings.to_dict(),
        generation=generation,
        files=files,
        checksums={name: sha256_file(directory / name) for name in files.values()},
        counts={"articles": report.articles, "chunks": report.chunks},
    )
    write_text_atomic(directory / MANIFEST, manifest.to_json())  # the commit point
    _remove_stale(directory, set(files.values()))
    return report


@dataclass(frozen=True)
class Vectors:
    """The two FAISS indexes a generation writes: chunk vectors and sentence-window vectors."""

    chunks: faiss.Index
    windows: faiss.Index


def _open_vectors(directory: Path, old: Manifest | None, role: str, dim: int) -> faiss.Index:
    if old is None:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index = faiss.read_index(str(directory / old.files[role]))
    if index.d != dim:
        raise IndexMismatch(f"{role} at {directory} have dim {index.d}, expected {dim}")
    return index


def _write_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def _sync(
    db: sqlite3.Connection,
    vectors: Vectors,
    corpus: Corpus,
    roots: list[Path],
    embedder: Embedder,
    settings: ChunkSettings,
    report: IndexReport,
    progress: bool,
    batch_size: int,
) -> None:
    wanted = {a.article_id: a for a in corpus.articles}
    existing = dict(db.execute("SELECT article_id, source_abs FROM articles").fetchall())
    gone = [aid for aid, src in existing.items() if aid not in wanted and _in_scope(src, roots)]
    _remove_articles(db, vectors, gone)
    new = [a for a in corpus.articles if a.article_id not in existing]
    for article in corpus.articles:  # a kept article may have moved file
        if article.article_id in existing:
            db.execute(
                "UPDATE articles SET source = ?, source_abs = ? WHERE article_id = ?",
                (article.source, str(Path(article.source).resolve()), article.article_id),
            )
    fits = _fits(embedder)
    chunks = [(a, c) for a in new for c in chunk_article(a, settings, fits)]
    _embed_and_add(db, vectors, chunks, embedder, progress, batch_size)
    report.added, report.removed = len(new), len(gone)
    report.unchanged = len(corpus.articles) - len(new)
    report.embedded_chunks = len(chunks)


def _fits(embedder: Embedder) -> Fits:
    return lambda text: embedder.token_count(text) <= embedder.max_tokens


def _remove_articles(db: sqlite3.Connection, vectors: Vectors, article_ids: list[str]) -> None:
    for aid in article_ids:
        ids = [r[0] for r in db.execute("SELECT faiss_id FROM chunks WHERE article_id = ?", (aid,))]
        marks = ",".join("?" * len(ids))
        sql = f"SELECT window_id FROM windows WHERE faiss_id IN ({marks})"
        window_ids = [r[0] for r in db.execute(sql, ids)]
        for index, remove in ((vectors.chunks, ids), (vectors.windows, window_ids)):
            if remove:
                index.remove_ids(np.asarray(remove, dtype=np.int64))  # type: ignore[arg-type]
        db.execute(f"DELETE FROM windows WHERE faiss_id IN ({marks})", ids)
        db.execute("DELETE FROM chunks WHERE article_id = ?", (aid,))
        db.execute("DELETE FROM articles WHERE article_id = ?", (aid,))


def _embed_and_add(
    db: sqlite3.Connection,
    vectors: Vectors,
    chunks: list[tuple[Article, Chunk]],
    embedder: Embedder,
    progress: bool,
    batch_size: int,
) -> None:
    """Store the chunks and their sentence windows, then embed both into their indexes."""
    next_id = (db.execute("SELECT MAX(faiss_id) FROM chunks").fetchone()[0] or 0) + 1
    next_window = (db.execute("SELECT MAX(window_id) FROM windows").fetchone()[0] or 0) + 1
    jobs: list[tuple[faiss.Index, int, str]] = []  # (index, id, text to embed)
    seen_articles: set[str] = set()
    for faiss_id, (article, chunk) in enumerate(chunks, start=next_id):
        if article.article_id not in seen_articles:
            seen_articles.add(article.article_id)
            _insert_article(db, article)
        _insert_chunk(db, faiss_id, chunk)
        jobs.append((vectors.chunks, faiss_id, chunk.text))
        for text in windows(chunk.text):
            db.execute("INSERT INTO windows VALUES (?, ?)", (next_window, faiss_id))
            jobs.append((vectors.windows, next_window, text))
            next_window += 1
    _embed_jobs(jobs, embedder, progress, batch_size)


def _embed_jobs(
    jobs: list[tuple[faiss.Index, int, str]], embedder: Embedder, progress: bool, batch_size: int
) -> None:
    bar = tqdm(total=len(jobs), desc="embedding", unit="text", disable=not progress or not jobs)
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        embedded = embedder.embed([text for _, _, text in batch])
        for target in {id(index): index for index, _, _ in batch}.values():
            rows = [i for i, (index, _, _) in enumerate(batch) if index is target]
            ids = np.asarray([batch[i][1] for i in rows], dtype=np.int64)
            target.add_with_ids(embedded[rows], ids)
        bar.update(len(batch))
    bar.close()


def _insert_chunk(db: sqlite3.Connection, faiss_id: int, chunk: Chunk) -> None:
    db.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
        (
            faiss_id,
            chunk.chunk_id,
            chunk.article_id,
            chunk.ordinal,
            chunk.text,
            chunk.start,
            chunk.end,
            chunk.n_tokens,
        ),
    )


def _insert_article(db: sqlite3.Connection, article: Article) -> None:
    db.execute(
        "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?)",
        (
            article.article_id,
            article.title,
            article.source,
            str(Path(article.source).resolve()),
            article.publisher,
            int(article.title_derived),
            article.text,
        ),
    )


def _remove_stale(directory: Path, live: set[str]) -> None:
    """Delete files of older generations and temporaries left by a killed writer."""
    for path in directory.iterdir():
        is_data = path.name.split("-")[0] in {
            "vectors",
            "windows",
            "chunks",
            "bm25",
            ".vectors",
            ".windows",
            ".chunks",
            ".bm25",
        }
        if is_data and path.name not in live:
            path.unlink(missing_ok=True)
    fsync_dir(directory)
