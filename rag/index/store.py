"""The index on disk: FAISS vectors, SQLite chunk text and metadata, BM25, a manifest.

Layout of an index directory (one *generation* is live at a time)::

    manifest.json            the commit point: names the live files and their sha256
    vectors-000003.faiss     IndexIDMap2(IndexFlatIP): cosine on normalised vectors
    windows-000003.faiss     the same over sentence windows (rag/index/windows.py)
    chunks-000003.sqlite     articles, chunks (chunks.faiss_id is the FAISS id) and
                             windows (window_id -> the faiss_id of its chunk)
    bm25-000003.npz          the BM25 postings (NumPy arrays, loaded without pickle)

A writer builds the next generation beside the live one and then replaces
``manifest.json`` atomically, so a killed ``rag index`` leaves the old index loadable.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.index.atomic import sha256_file
from rag.index.bm25 import BM25
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound

FORMAT = 2  # 2: sentence windows
MANIFEST = "manifest.json"

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, title TEXT, source TEXT, source_abs TEXT,
    publisher TEXT, title_derived INTEGER, text TEXT);
CREATE TABLE IF NOT EXISTS chunks (
    faiss_id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, article_id TEXT, ordinal INTEGER,
    text TEXT, start INTEGER, end INTEGER, n_tokens INTEGER);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS windows (window_id INTEGER PRIMARY KEY, faiss_id INTEGER);
CREATE INDEX IF NOT EXISTS windows_chunk ON windows(faiss_id);
"""


@dataclass
class Manifest:
    embedder: str
    dim: int
    chunker: dict[str, int]
    generation: int = 0
    files: dict[str, str] = field(default_factory=dict)  # role -> file name
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    counts: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise IndexNotFound(
                f"no index at {directory}: run 'rag index PATH --index {directory}'"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise IndexCorrupt(
                f"{path} is not a valid manifest ({exc}); rebuild with "
                f"'rag index PATH --index {directory} --rebuild'"
            ) from exc
        if manifest.format != FORMAT:
            raise IndexMismatch(
                f"index format {manifest.format} at {directory}, this version "
                f"reads {FORMAT}: rebuild with 'rag index PATH --rebuild'"
            )
        return manifest


def generation_files(generation: int) -> dict[str, str]:
    return {
        "vectors": f"vectors-{generation:06d}.faiss",
        "windows": f"windows-{generation:06d}.faiss",
        "chunks": f"chunks-{generation:06d}.sqlite",
        "bm25": f"bm25-{generation:06d}.npz",
    }


def check_embedder(manifest: Manifest, name: str, dim: int, directory: Path) -> None:
    if manifest.embedder != name or manifest.dim != dim:
        raise IndexMismatch(
            f"the index at {directory} was made with embedder {manifest.embedder!r} "
            f"(dim {manifest.dim}), not {name!r} (dim {dim}): rebuild it with "
            f"'rag index PATH --index {directory} --rebuild' or load it with that embedder"
        )


class Store:
    """A live index generation, opened read-only and checked against its manifest."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.manifest = manifest
        self._verify()
        files = manifest.files
        self.vectors = faiss.read_index(str(directory / files["vectors"]))
        self.windows = faiss.read_index(str(directory / files["windows"]))
        uri = f"file:{directory / files['chunks']}?mode=ro"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.bm25 = BM25.load(directory / files["bm25"])
        self.window_owner = dict(self.db.execute("SELECT window_id, faiss_id FROM windows"))

    @classmethod
    def open(cls, directory: str | Path) -> Store:
        directory = Path(directory)
        return cls(directory, Manifest.read(directory))

    def _verify(self) -> None:
        for name in self.manifest.files.values():
            path = self.directory / name
            if not path.is_file():
                raise IndexCorrupt(f"{path} is missing: rebuild with 'rag index PATH --rebuild'")
            if sha256_file(path) != self.manifest.checksums.get(name):
                raise IndexCorrupt(
                    f"{path} fails its checksum: rebuild with 'rag index PATH --rebuild'"
                )

    def close(self) -> None:
        self.db.close()

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    def dense(self, query: np.ndarray, n: int) -> list[tuple[int, float]]:
        if len(self) == 0:
            return []
        scores, ids = self.vectors.search(
            query.reshape(1, -1).astype(np.float32), min(n, len(self))
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def dense_windows(
        self, query: np.ndarray, n: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Chunks ranked by their best sentence window: (chunk faiss_id, cosine), best first."""
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

    def vector(self, faiss_id: int) -> np.ndarray:
        return np.asarray(self.vectors.reconstruct(faiss_id), dtype=np.float32)

    def rows(self, faiss_ids: list[int]) -> dict[int, sqlite3.Row]:
        if not faiss_ids:
            return {}
        marks = ",".join("?" * len(faiss_ids))
        sql = (
            "SELECT c.*, a.title, a.source, a.publisher FROM chunks c "
            f"JOIN articles a USING(article_id) WHERE c.faiss_id IN ({marks})"
        )
        return {row["faiss_id"]: row for row in self.db.execute(sql, faiss_ids)}

    def lead(self, article_id: str, n: int) -> list[int]:
        """FAISS ids of an article's first ``n`` chunks, in article order."""
        sql = "SELECT faiss_id FROM chunks WHERE article_id = ? ORDER BY ordinal LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (article_id, n))]

    def ids_where(self, article: str | None, source: str | None) -> set[int]:
        """FAISS ids of the chunks of articles matching the filter (id or title; source)."""
        sql = "SELECT c.faiss_id FROM chunks c JOIN articles a USING(article_id) WHERE 1=1"
        args: list[Any] = []
        if article:
            sql += " AND (a.article_id = ? OR a.title LIKE ?)"
            args += [article, f"%{article}%"]
        if source:
            sql += " AND (a.source = ? OR a.source LIKE ?)"
            args += [source, f"%{source}"]
        return {row[0] for row in self.db.execute(sql, args)}

    def articles(self) -> list[dict[str, Any]]:
        sql = (
            "SELECT a.article_id, a.title, a.source, a.publisher, a.title_derived, "
            "COUNT(c.faiss_id) AS chunks FROM articles a LEFT JOIN chunks c USING(article_id) "
            "GROUP BY a.article_id ORDER BY a.source, a.rowid"
        )
        return [dict(row) for row in self.db.execute(sql)]
