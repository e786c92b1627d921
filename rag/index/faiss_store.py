"""The first store: FAISS vectors, SQLite rows and BM25 postings in a directory.

The files and the manifest are described in ``rag/index/manifest.py``; a reader opens
the generation the manifest names, each vector file as the layout it was written with
(exact or IVF: ``rag/index/vectors.py``), checked against its sha256 sums and for parts
that disagree (``rag/index/agreement.py``), and never writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.index.agreement import check_parts, read_part
from rag.index.base import ChunkFilter, IndexSettings, Ranking, StoredChunk
from rag.index.bm25 import BM25
from rag.index.manifest import Manifest
from rag.index.rows import ChunkRows
from rag.index.vectors import read_index, search
from rag.index.window_owners import WindowOwners


class FaissStore:
    """A live index generation, opened read-only and checked against its manifest."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.location = str(directory)
        self.manifest = manifest
        manifest.verify(directory)
        files, dim = manifest.files, manifest.dim
        self.vectors, self.windows = (
            read_part(
                directory / files[role], partial(read_index, dim=dim, layout=manifest.layout(role))
            )
            for role in ("vectors", "windows")
        )
        self.table = read_part(directory / files["chunks"], _read_rows)
        self.db = self.table.db
        self.bm25 = read_part(directory / files["bm25"], BM25.load)
        self.owners = WindowOwners.read(self.table)
        check_parts(
            self.location,
            self.table,
            self.vectors,
            self.windows,
            self.bm25.ids,
            manifest.counts,
            self.owners,
        )

    @classmethod
    def open(cls, directory: str | Path) -> FaissStore:
        directory = Path(directory)
        return cls(directory, Manifest.read(directory))

    @property
    def settings(self) -> IndexSettings:
        return self.manifest.settings

    def close(self) -> None:
        self.db.close()

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    def dense(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        if allowed is not None:  # a filter leaves few chunks: score them all exactly
            keys = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            return _best(keys, self._scores(self.vectors, keys, query), n)
        if len(self) == 0:
            return []
        scores, ids = search(self.vectors, query, min(n, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def dense_windows(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        """Chunks by their best window: a filter's windows scored exactly, else the
        nearest windows (several a chunk: eight times deeper than ``n``)."""
        if allowed is not None:
            keys = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
            window_ids = self.owners.windows_of(keys)
            scores = self._scores(self.windows, window_ids, query)
        else:
            total = int(self.windows.ntotal)
            if total == 0:
                return []
            found, ids = search(self.windows, query, min(total, n * 8))
            scores, window_ids = found[0], ids[0][ids[0] >= 0]
            scores = scores[: len(window_ids)]
        order = np.argsort(-scores, kind="stable")
        owners = self.owners.owner_of(window_ids[order])
        best: dict[int, float] = {}
        for owner, score in zip(owners.tolist(), scores[order].tolist(), strict=True):
            if owner >= 0:
                best.setdefault(owner, score)  # best first: the first is the chunk's best
                if len(best) == n:
                    break
        return list(best.items())

    def _scores(self, index: faiss.Index, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros(0, dtype=np.float32)
        return np.asarray(index.reconstruct_batch(ids) @ query, dtype=np.float32)

    def lexical(self, query: str, n: int, allowed: set[int] | None = None) -> Ranking:
        return self.bm25.top(query, n, allowed)

    def knows(self, term: str) -> bool:
        return term in self.bm25

    def vector(self, key: int) -> np.ndarray:
        """A chunk's vector (as stored: an IVF index keeps it quantised to 8 bits)."""
        return np.asarray(self.vectors.reconstruct(key), dtype=np.float32)

    def chunks(self, keys: Sequence[int]) -> dict[int, StoredChunk]:
        return self.table.chunks(keys)

    def lead(self, article_id: str, n: int) -> list[int]:
        return self.table.lead(article_id, n)

    def ids_where(self, filter: ChunkFilter) -> set[int]:
        return self.table.ids_where(filter)

    def articles(self) -> list[dict[str, Any]]:
        return self.table.articles()


def _best(keys: np.ndarray, scores: np.ndarray, n: int) -> Ranking:
    """The ``n`` best (key, score) pairs, best first, ties by key."""
    order = np.lexsort((keys, -scores))[:n]
    return [(int(keys[i]), float(scores[i])) for i in order]


def _read_rows(path: Path) -> ChunkRows:
    rows = ChunkRows(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))
    try:
        rows.probe()
    except sqlite3.DatabaseError:
        rows.db.close()
        raise
    return rows
