"""The first store: FAISS vectors, SQLite rows and BM25 postings in a directory.

The files and the manifest are described in ``rag/index/manifest.py``; a reader opens
the generation the manifest names, checked against its sha256 sums and for parts
that disagree (``rag/index/agreement.py``), and never writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.agreement import check_parts, read_part, read_vectors
from rag.index.base import IndexSettings, Ranking, StoredChunk
from rag.index.bm25 import BM25
from rag.index.manifest import Manifest
from rag.index.rows import ChunkRows


class FaissStore:
    """A live index generation, opened read-only and checked against its manifest."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.location = str(directory)
        self.manifest = manifest
        manifest.verify(directory)
        files, dim = manifest.files, manifest.dim
        self.vectors = read_part(directory / files["vectors"], partial(read_vectors, dim=dim))
        self.windows = read_part(directory / files["windows"], partial(read_vectors, dim=dim))
        self.table = read_part(directory / files["chunks"], _read_rows)
        self.db = self.table.db
        self.bm25 = read_part(directory / files["bm25"], BM25.load)
        check_parts(
            self.location, self.table, self.vectors, self.windows, self.bm25.ids, manifest.counts
        )
        self.window_owner = self.table.window_owners()

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
            scored = [(i, float(self.vector(i) @ query)) for i in allowed]
            return sorted(scored, key=lambda pair: -pair[1])[:n]
        if len(self) == 0:
            return []
        scores, ids = self.vectors.search(
            query.reshape(1, -1).astype(np.float32), min(n, len(self))
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def dense_windows(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        total = int(self.windows.ntotal)
        if total == 0:
            return []
        # Several windows per chunk, and a filter may reject many: look deep enough.
        depth = total if allowed is not None else min(total, n * 8)
        scores, ids = self.windows.search(query.reshape(1, -1).astype(np.float32), depth)
        best: dict[int, float] = {}
        for window_id, score in zip(ids[0], scores[0], strict=True):
            owner = self.window_owner.get(int(window_id))
            if owner is None or (allowed is not None and owner not in allowed):
                continue
            best.setdefault(owner, float(score))  # results come best first
            if len(best) == n:
                break
        return list(best.items())

    def lexical(self, query: str, n: int, allowed: set[int] | None = None) -> Ranking:
        pairs = self.bm25.top(query, len(self.bm25.ids))
        if allowed is not None:
            pairs = [p for p in pairs if p[0] in allowed]
        return pairs[:n]

    def knows(self, term: str) -> bool:
        return term in self.bm25

    def vector(self, key: int) -> np.ndarray:
        return np.asarray(self.vectors.reconstruct(key), dtype=np.float32)

    def chunks(self, keys: Sequence[int]) -> dict[int, StoredChunk]:
        return self.table.chunks(keys)

    def lead(self, article_id: str, n: int) -> list[int]:
        return self.table.lead(article_id, n)

    def ids_where(
        self,
        article: str | None,
        source: str | None,
        since: str | None = None,
        until: str | None = None,
    ) -> set[int]:
        return self.table.ids_where(article, source, since, until)

    def articles(self) -> list[dict[str, Any]]:
        return self.table.articles()


def _read_rows(path: Path) -> ChunkRows:
    rows = ChunkRows(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))
    try:
        rows.probe()
    except sqlite3.DatabaseError:
        rows.db.close()
        raise
    return rows
