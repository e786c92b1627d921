"""The SQLite side of an index: the one place that knows its tables and column order.

``articles`` hold the cleaned text (citations point into it), ``chunks`` their
passages keyed by ``faiss_id`` (the key of the chunk's vector), ``windows`` map a
sentence-window vector's id to its chunk.

>>> import sqlite3
>>> from rag.types import Article, Chunk
>>> rows = ChunkRows(sqlite3.connect(":memory:"))
>>> rows.create()
>>> rows.insert_article(Article("a1", "Title", "One. Two.", "/news/a.txt"))
>>> rows.insert_chunk(1, Chunk("a1:0", "a1", 0, "One. Two.", 0, 9, 3))
>>> rows.chunks([1])[1].chunk.text
'One. Two.'
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.base import ChunkFilter, StoredChunk
from rag.types import Article, Chunk

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, title TEXT, source TEXT, source_abs TEXT,
    publisher TEXT, title_derived INTEGER, text TEXT, published TEXT, author TEXT, url TEXT);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE TABLE IF NOT EXISTS chunks (
    faiss_id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, article_id TEXT, ordinal INTEGER,
    text TEXT, start INTEGER, end INTEGER, n_tokens INTEGER);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS windows (window_id INTEGER PRIMARY KEY, faiss_id INTEGER);
CREATE INDEX IF NOT EXISTS windows_chunk ON windows(faiss_id);
"""

COLUMNS = {
    "articles": (
        "article_id",
        "title",
        "source",
        "source_abs",
        "publisher",
        "title_derived",
        "text",
        "published",
        "author",
        "url",
    ),
    "chunks": ("faiss_id", "chunk_id", "article_id", "ordinal", "text", "start", "end", "n_tokens"),
    "windows": ("window_id", "faiss_id"),
}

# One condition per ChunkFilter field. instr and substr, not LIKE: a % or _ in a filter is
# a plain character, as in the PostgreSQL store (strpos, right). Titles compare lowered;
# SQLite's lower() folds ASCII letters only, PostgreSQL's every letter.
_FILTER_SQL = {
    "article": "(a.article_id = :article OR instr(lower(a.title), lower(:article)) > 0)",
    "source": "(a.source = :source OR substr(a.source, -length(:source)) = :source)",
    # ISO dates sort as text; a NULL date (unknown) fails both comparisons.
    "since": "a.published >= :since",
    "until": "a.published <= :until",
}

# SQLite caps the parameters of one statement (32766 since 3.32, 999 before).
BATCH = 900


class ChunkRows:
    """Articles, chunks and window owners in one SQLite connection, read and written."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.row_factory = sqlite3.Row

    def create(self) -> None:
        self.db.executescript(SCHEMA)

    # ---------------------------------------------------------------- writing

    def insert_article(self, article: Article) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                article.article_id,
                article.title,
                article.source,
                str(Path(article.source).resolve()),
                article.publisher,
                int(article.title_derived),
                article.text,
                article.published,
                article.author,
                article.url,
            ),
        )

    def insert_chunk(self, key: int, chunk: Chunk) -> None:
        self.db.execute(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
            (
                key,
                chunk.chunk_id,
                chunk.article_id,
                chunk.ordinal,
                chunk.text,
                chunk.start,
                chunk.end,
                chunk.n_tokens,
            ),
        )

    def insert_windows(self, pairs: Iterable[tuple[int, int]]) -> None:
        """(window id, key of its chunk) pairs."""
        self.db.executemany("INSERT INTO windows VALUES (?, ?)", pairs)

    def next_keys(self) -> tuple[int, int]:
        """The next free chunk key and window id (1 in an empty index)."""
        chunk = self.db.execute("SELECT MAX(faiss_id) FROM chunks").fetchone()[0]
        window = self.db.execute("SELECT MAX(window_id) FROM windows").fetchone()[0]
        return (chunk or 0) + 1, (window or 0) + 1

    def move(self, article: Article) -> None:
        self.db.execute(
            "UPDATE articles SET source = ?, source_abs = ? WHERE article_id = ?",
            (article.source, str(Path(article.source).resolve()), article.article_id),
        )

    def delete_article(self, article_id: str) -> tuple[list[int], list[int]]:
        """Delete an article's rows; the chunk keys and window ids it had."""
        sql = "SELECT faiss_id FROM chunks WHERE article_id = ?"
        keys = [r[0] for r in self.db.execute(sql, (article_id,))]
        marks = ",".join("?" * len(keys))
        sql = f"SELECT window_id FROM windows WHERE faiss_id IN ({marks})"
        window_ids = [r[0] for r in self.db.execute(sql, keys)]
        self.db.execute(f"DELETE FROM windows WHERE faiss_id IN ({marks})", keys)
        self.db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE article_id = ?", (article_id,))
        return keys, window_ids

    def drop_unchunked(self) -> None:
        """Delete the articles left without a chunk: nothing of them could be found."""
        self.db.execute(
            "DELETE FROM articles WHERE article_id NOT IN (SELECT article_id FROM chunks)"
        )

    def clear_chunks(self) -> None:
        """Delete every chunk and window, keeping the articles (to chunk them again)."""
        self.db.execute("DELETE FROM windows")
        self.db.execute("DELETE FROM chunks")

    # ---------------------------------------------------------------- reading

    def probe(self) -> None:
        """Raise sqlite3.DatabaseError unless the file has this module's tables and columns."""
        for table, columns in COLUMNS.items():
            self.db.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 1").fetchall()

    def keys(self) -> np.ndarray:
        return np.fromiter(self._plain("SELECT faiss_id FROM chunks"), dtype=np.int64)

    def _plain(self, sql: str) -> Iterable[Any]:
        """The first column of each row, without building sqlite3.Row objects."""
        cursor = self.db.cursor()
        cursor.row_factory = lambda _, row: row[0]
        return cursor.execute(sql)

    def unchunked(self) -> list[Article]:
        """The articles held without a chunk, in insertion order."""
        sql = (
            f"SELECT {', '.join(_ARTICLE_FIELDS)} FROM articles "
            "WHERE article_id NOT IN (SELECT article_id FROM chunks) ORDER BY rowid"
        )
        return [_article(row) for row in self.db.execute(sql)]

    def sources(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT article_id, source_abs FROM articles").fetchall())

    def counts(self) -> dict[str, int]:
        return {
            "articles": self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "chunks": self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        }

    def window_pairs(self) -> np.ndarray:
        """(window id, key of its chunk) rows of every window, by window id: an (n, 2) array."""
        sql = "SELECT window_id, faiss_id FROM windows ORDER BY window_id"
        cursor = self.db.cursor()
        cursor.row_factory = None
        return np.array(cursor.execute(sql).fetchall(), dtype=np.int64).reshape(-1, 2)

    def texts(self) -> list[tuple[int, str]]:
        """(key, text) of every chunk, by key: what BM25 is built from."""
        sql = "SELECT faiss_id, text FROM chunks ORDER BY faiss_id"
        return [(row[0], row[1]) for row in self.db.execute(sql)]

    def rows(self, keys: Sequence[int]) -> dict[int, sqlite3.Row]:
        """Chunk rows with their article's title, source and publisher, by key."""
        out = {}
        for start in range(0, len(keys), BATCH):
            batch = list(keys[start : start + BATCH])
            marks = ",".join("?" * len(batch))
            sql = (
                "SELECT c.*, a.title, a.source, a.publisher, a.published, a.author, a.url "
                "FROM chunks c "
                f"JOIN articles a USING(article_id) WHERE c.faiss_id IN ({marks})"
            )
            out.update({row["faiss_id"]: row for row in self.db.execute(sql, batch)})
        return out

    def chunks(self, keys: Sequence[int]) -> dict[int, StoredChunk]:
        return {key: _stored(row) for key, row in self.rows(keys).items()}

    def lead(self, article_id: str, n: int) -> list[int]:
        sql = "SELECT faiss_id FROM chunks WHERE article_id = ? ORDER BY ordinal LIMIT ?"
        return [row[0] for row in self.db.execute(sql, (article_id, n))]

    def ids_where(self, filter: ChunkFilter) -> set[int]:
        sql = "SELECT c.faiss_id FROM chunks c JOIN articles a USING(article_id) WHERE 1=1"
        sql += filter.conditions(_FILTER_SQL)
        return {row[0] for row in self.db.execute(sql, asdict(filter))}

    def articles(self) -> list[dict[str, Any]]:
        sql = (
            "SELECT a.article_id, a.title, a.source, a.publisher, a.title_derived, "
            "a.published, a.author, a.url, "
            "COUNT(c.faiss_id) AS chunks FROM articles a LEFT JOIN chunks c USING(article_id) "
            "GROUP BY a.article_id ORDER BY a.source, a.rowid"
        )
        return [dict(row) for row in self.db.execute(sql)]


def _stored(row: sqlite3.Row) -> StoredChunk:
    chunk = Chunk(
        chunk_id=row["chunk_id"],
        article_id=row["article_id"],
        ordinal=row["ordinal"],
        text=row["text"],
        start=row["start"],
        end=row["end"],
        n_tokens=row["n_tokens"],
    )
    return StoredChunk(
        row["faiss_id"],
        chunk,
        row["title"],
        row["source"],
        row["publisher"] or "",
        published=row["published"],
        author=row["author"] or "",
        url=row["url"] or "",
    )


_ARTICLE_FIELDS = (
    "article_id",
    "title",
    "text",
    "source",
    "publisher",
    "title_derived",
    "published",
    "author",
    "url",
)


def _article(row: sqlite3.Row) -> Article:
    return Article(
        article_id=row["article_id"],
        title=row["title"],
        text=row["text"],
        source=row["source"],
        publisher=row["publisher"] or "",
        title_derived=bool(row["title_derived"]),
        published=row["published"],
        author=row["author"] or "",
        url=row["url"] or "",
    )
