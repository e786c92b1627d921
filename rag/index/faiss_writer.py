"""The FAISS store's writer: the next generation built beside the live one.

One writer per directory at a time (a ``flock`` on ``.lock``). The writer copies the
live SQLite file to a temporary name and edits it there, and edits in-memory copies
of the FAISS indexes; :meth:`FaissWriter.commit` writes BM25, the SQLite file and the
FAISS files of the next generation (each atomically), then ``manifest.json`` (the
commit point), then deletes older generations. A writer killed before the manifest
is replaced leaves the previous generation live; its files are cleaned up by the next.
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

from rag.errors import IndexMismatch, InputError
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
from rag.index.manifest import MANIFEST, ROLES, Manifest, generation_files
from rag.index.rows import ChunkRows
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
    """The next generation of a FAISS store directory, until :meth:`commit`."""

    def __init__(self, directory: Path, settings: IndexSettings, old: Manifest | None) -> None:
        self.directory, self.settings = directory, settings
        self.generation = (old.generation if old else 0) + 1
        self.files = generation_files(self.generation)
        self.chunk_index = _open_index(directory, old, "vectors", settings.dim)
        self.window_index = _open_index(directory, old, "windows", settings.dim)
        self.db_path = directory / self.files["chunks"]
        self.tmp = temp_path(self.db_path)
        if old:
            shutil.copyfile(directory / old.files["chunks"], self.tmp)
        self.table = ChunkRows(sqlite3.connect(self.tmp))
        self.table.create()

    @classmethod
    @contextmanager
    def open(
        cls, location: str | Path, settings: IndexSettings, rebuild: bool = False
    ) -> Iterator[FaissWriter]:
        """A writer on ``location``, adding to its live generation unless ``rebuild``."""
        directory = Path(location)
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory):
            live = (
                None
                if rebuild or not (directory / MANIFEST).is_file()
                else Manifest.read(directory)
            )
            keep = live is not None and keeps_previous(live.settings, settings, str(directory))
            writer = cls(directory, settings, live if keep else None)
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
        self.table.db.commit()
        counts = self.table.counts()
        bm25 = BM25.build(self.table.texts())
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
        )
        write_text_atomic(self.directory / MANIFEST, manifest.to_json())  # the commit point


def _open_index(directory: Path, old: Manifest | None, role: str, dim: int) -> faiss.Index:
    if old is None:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    index = faiss.read_index(str(directory / old.files[role]))
    if index.d != dim:
        raise IndexMismatch(f"{role} at {directory} have dim {index.d}, expected {dim}")
    return index


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
