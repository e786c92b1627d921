"""The FAISS store's writer: the next generation built beside the live one.

One writer per directory at a time (a ``flock`` on ``.lock``). The writer copies the
live SQLite file to a temporary name and edits it there, and edits in-memory copies
of the FAISS indexes; :meth:`FaissWriter.commit` first makes each FAISS index the kind
its size wants (exact, or IVF trained in memory: ``rag/index/vectors.py``), then writes
BM25, the SQLite file and the FAISS files of the next generation (each atomically),
then ``manifest.json`` (the
commit point), then deletes older generations. The next generation is numbered above
every one on disk, a ``--rebuild`` and a chunker change included, so no live file is
ever written over. A writer killed before the manifest is replaced leaves the previous
generation live; its files are cleaned up by the next. A writer refuses to start from
a live generation that fails its checksums or whose parts disagree, and refuses to
commit parts that disagree (``rag/index/agreement.py``).
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt, InputError
from rag.index.agreement import check_parts, parts_problem, read_part
from rag.index.atomic import (
    fsync_dir,
    publish,
    sha256_file,
    temp_path,
    write_atomic,
    write_text_atomic,
)
from rag.index.base import EmbeddedChunk, IndexSettings, keeps_previous
from rag.index.bm25 import BM25
from rag.index.manifest import MANIFEST, ROLES, Manifest, generation_files, next_generation
from rag.index.rows import ChunkRows
from rag.index.vectors import arrange, exact_below, layout_of, new_exact, read_index
from rag.types import Article


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


class FaissWriter:
    """The next generation of a FAISS store directory, until :meth:`commit`.

    It starts from ``base`` (the live generation, checked) or from nothing; with
    ``keep_chunks`` false it keeps only the base's articles, every one to be chunked
    again (:meth:`stale`).
    """

    def __init__(
        self,
        directory: Path,
        settings: IndexSettings,
        base: Manifest | None,
        keep_chunks: bool,
        generation: int,
    ) -> None:
        self.directory, self.settings, self.generation = directory, settings, generation
        self.files = generation_files(generation)
        self.db_path = directory / self.files["chunks"]
        self.tmp = temp_path(self.db_path)
        if base:
            shutil.copyfile(directory / base.files["chunks"], self.tmp)
        self.table = ChunkRows(sqlite3.connect(self.tmp))
        try:
            self._start(base, keep_chunks)
        except BaseException:
            self.table.db.close()
            self.tmp.unlink(missing_ok=True)
            raise

    def _start(self, base: Manifest | None, keep_chunks: bool) -> None:
        self.table.create()
        kept = base if keep_chunks else None
        self.chunk_index = _open_index(self.directory, kept, "vectors", self.settings.dim)
        self.window_index = _open_index(self.directory, kept, "windows", self.settings.dim)
        if kept:  # never build on parts that disagree: they would be committed as sound
            rows, vectors, windows = self.table, self.chunk_index, self.window_index
            check_parts(str(self.directory), rows, vectors, windows, None, kept.counts)
        elif base:
            self.table.clear_chunks()

    @classmethod
    @contextmanager
    def open(
        cls, location: str | Path, settings: IndexSettings, rebuild: bool = False
    ) -> Iterator[FaissWriter]:
        """A writer on ``location``, adding to its live generation unless ``rebuild``.

        Whatever it starts from, it writes a generation above every one on disk, so
        the live files stay untouched until the manifest names the new ones.
        """
        directory = Path(location)
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory):
            live = (
                None
                if rebuild or not (directory / MANIFEST).is_file()
                else Manifest.read(directory)
            )
            if live:
                live.verify(directory)
            keep = live is not None and keeps_previous(live.settings, settings, str(directory))
            writer = cls(directory, settings, live, keep, next_generation(directory))
            try:
                yield writer
            finally:
                writer.table.db.close()  # a no-op after commit
                writer.tmp.unlink(missing_ok=True)

    def sources(self) -> dict[str, str]:
        return self.table.sources()

    def remove(self, article_ids: Sequence[str]) -> None:
        for article_id in article_ids:
            keys, window_ids = self.table.delete_article(article_id)
            for index, remove in ((self.chunk_index, keys), (self.window_index, window_ids)):
                if remove:
                    index.remove_ids(np.asarray(remove, dtype=np.int64))  # type: ignore[arg-type]

    def move(self, article: Article) -> None:
        self.table.move(article)

    def stale(self) -> list[Article]:
        return self.table.unchunked()

    def add(self, article: Article, chunks: Sequence[EmbeddedChunk]) -> None:
        if not chunks:
            return
        key, window_id = self.table.next_keys()
        keys = list(range(key, key + len(chunks)))
        self.table.insert_article(article)
        for chunk_key, item in zip(keys, chunks, strict=True):
            self.table.insert_chunk(chunk_key, item.chunk)
        owners = [k for k, item in zip(keys, chunks, strict=True) for _ in item.windows]
        window_ids = list(range(window_id, window_id + len(owners)))
        self.table.insert_windows(zip(window_ids, owners, strict=True))
        _add(self.chunk_index, np.stack([c.vector for c in chunks]), keys)
        if window_ids:
            _add(self.window_index, np.concatenate([c.windows for c in chunks]), window_ids)

    def commit(self) -> dict[str, int]:
        self.table.drop_unchunked()
        self.table.db.commit()
        counts = self.table.counts()
        threshold = exact_below()  # before any training: a bad value changes nothing
        # Training happens here, in memory, before any file of the generation is written.
        self.chunk_index = arrange(self.chunk_index, self.settings.dim, threshold)
        self.window_index = arrange(self.window_index, self.settings.dim, threshold)
        bm25 = BM25.build(self.table.texts())
        problem = parts_problem(self.table, self.chunk_index, self.window_index, bm25.ids)
        if problem:  # a bug, but never one that reaches the disk as a sound index
            raise IndexCorrupt(
                f"not committing {self.directory}: the new generation's parts disagree "
                f"({problem}); the live index is unchanged"
            )
        self.table.db.close()
        write_atomic(self.directory / self.files["bm25"], bm25.save)
        publish(self.tmp, self.db_path)
        for role, index in (("vectors", self.chunk_index), ("windows", self.window_index)):
            write_atomic(self.directory / self.files[role], partial(_write_index, index))
        self._write_manifest(counts)
        _remove_stale(self.directory, set(self.files.values()))
        return counts

    def _write_manifest(self, counts: dict[str, int]) -> None:
        manifest = Manifest(
            embedder=self.settings.embedder,
            dim=self.settings.dim,
            chunker=self.settings.chunker,
            generation=self.generation,
            files=self.files,
            checksums={name: sha256_file(self.directory / name) for name in self.files.values()},
            counts=counts,
            layouts={
                "vectors": layout_of(self.chunk_index).to_dict(),
                "windows": layout_of(self.window_index).to_dict(),
            },
        )
        write_text_atomic(self.directory / MANIFEST, manifest.to_json())  # the commit point


def _open_index(directory: Path, old: Manifest | None, role: str, dim: int) -> faiss.Index:
    if old is None:
        return new_exact(dim)
    layout = old.layout(role)
    return read_part(directory / old.files[role], partial(read_index, dim=dim, layout=layout))


def _add(index: faiss.Index, vectors: np.ndarray, ids: list[int]) -> None:
    index.add_with_ids(np.asarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def _write_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def _remove_stale(directory: Path, live: set[str]) -> None:
    """Delete files of older generations and temporaries left by a killed writer."""
    prefixes = set(ROLES) | {f".{role}" for role in ROLES}
    for path in directory.iterdir():
        if path.name.split("-")[0] in prefixes and path.name not in live:
            path.unlink(missing_ok=True)
    fsync_dir(directory)
