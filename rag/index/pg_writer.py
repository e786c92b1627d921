"""The PostgreSQL store's writer: the next generation, written in one transaction.

One writer per database at a time (``pg_try_advisory_lock``; a second one is refused
with a message, and the lock goes with the connection, so a killed writer frees it). The
writer opens a transaction, purges rows no reader one generation behind can still see,
writes generation live+1 (new rows ``born`` in it, removed rows ``died`` in it) and, at
:meth:`PgWriter.commit`, sets ``rag_meta.live`` to it and commits: readers see all of
the batch or none of it, and a killed writer's transaction is rolled back by the server.
The writer that creates the tables builds their HNSW indexes at its commit, over all the
rows it wrote (faster than keeping them up row by row); later writers keep them up.
Tables are described in ``rag/index/pg_schema.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.index.base import EmbeddedChunk, IndexSettings, keeps_previous
from rag.index.pg_hnsw import Hnsw, hnsw_settings
from rag.index.pg_schema import (
    DROP,
    LOCK_KEY,
    META,
    SCHEMA_VERSION,
    VISIBLE,
    connect,
    hnsw,
    read_meta,
    redact,
    settings_of,
    tables,
    use_vectors,
)
from rag.text.words import terms
from rag.types import Article

_ARTICLE = "article_id, title, text, source, publisher, title_derived, published, author, url"


class PgWriter:
    """Generation ``live + 1`` of a PostgreSQL store, until :meth:`commit`."""

    def __init__(
        self, conn: Any, shown: str, settings: IndexSettings, rebuild: bool, graph: Hnsw
    ) -> None:
        self.conn, self.location, self.settings, self.graph = conn, shown, settings, graph
        self.made_tables = False  # True: the HNSW indexes are built at commit
        conn.execute(META)
        meta = read_meta(conn, shown)
        if meta is None:
            self._create(settings.dim)
            self.generation, oldest = 1, 0
        else:
            live = int(meta["live"])
            self.generation, oldest = live + 1, max(int(meta["oldest"]), live - 1)
            self._purge(live)
            if self._start(meta, rebuild):  # new tables: no older generation is left
                oldest = self.generation
        self.gen = {"gen": self.generation}
        self._save_meta(oldest)

    @classmethod
    @contextmanager
    def open(
        cls, location: str | Path, settings: IndexSettings, rebuild: bool = False
    ) -> Iterator[PgWriter]:
        """A writer on the store at URL ``location``, adding to its live generation
        unless ``rebuild``; nothing it wrote is kept unless :meth:`commit` is called."""
        url = str(location)
        shown = redact(url)
        graph = hnsw_settings()  # a bad $RAG_PG_* is refused before anything is written
        conn = connect(url)
        try:
            use_vectors(conn, shown, create=True)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                raise InputError(f"another 'rag index' is writing {shown}; try again later")
            conn.autocommit = False  # from here, one transaction up to commit()
            yield cls(conn, shown, settings, rebuild, graph)
        finally:
            conn.rollback()  # a no-op after commit
            conn.close()  # the advisory lock goes with the session

    # ------------------------------------------------------------ the start

    def _create(self, dim: int) -> None:
        for statement in tables(dim):
            self.conn.execute(statement)
        self.made_tables = True

    def _build_hnsw(self) -> None:
        """The HNSW indexes of tables this writer made, over the rows it wrote (in the
        server's ``maintenance_work_mem``: pgvector builds fast while the graph fits), with
        the build settings of :mod:`rag.index.pg_hnsw`."""
        for statement in hnsw(self.graph.build_options()):
            self.conn.execute(statement)

    def _purge(self, live: int) -> None:
        """Delete rows that died before the live generation: no generation a reader
        can be pinned to (the live one or the one before) still holds them."""
        for table in ("rag_windows", "rag_chunks", "rag_articles"):
            self.conn.execute(f"DELETE FROM {table} WHERE died < %s", (live,))

    def _start(self, meta: dict[str, Any], rebuild: bool) -> bool:
        """End what the batch does not keep; True when the tables were made anew."""
        made = settings_of(meta)
        if rebuild and made.dim != self.settings.dim:  # the vector columns change size
            for statement in DROP:
                self.conn.execute(statement)
            self._create(self.settings.dim)
            return True
        gen = {"gen": self.generation}
        if rebuild:
            for table in ("rag_windows", "rag_chunks", "rag_articles"):
                self._end(table, "TRUE", gen)
        elif not keeps_previous(made, self.settings, self.location):
            for table in ("rag_windows", "rag_chunks"):  # articles stay, to chunk again
                self._end(table, "TRUE", gen)
        return False

    def _end(self, table: str, where: str, params: dict[str, Any]) -> None:
        """End the rows of ``table`` matching ``where`` in this generation."""
        sql = f"UPDATE {table} SET died = %(gen)s WHERE {VISIBLE} AND {where}"
        self.conn.execute(sql, params)

    def _save_meta(self, oldest: int) -> None:
        s = self.settings
        self.conn.execute(
            "INSERT INTO rag_meta VALUES (1, %s, 0, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE "
            "SET schema_version = EXCLUDED.schema_version, oldest = EXCLUDED.oldest, "
            "embedder = EXCLUDED.embedder, dim = EXCLUDED.dim, chunker = EXCLUDED.chunker",
            (SCHEMA_VERSION, oldest, s.embedder, s.dim, json.dumps(s.chunker)),
        )

    # ------------------------------------------------------------ the batch

    def _rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, {**self.gen, **params}).fetchall())

    def sources(self) -> dict[str, str]:
        sql = f"SELECT article_id, source_abs FROM rag_articles WHERE {VISIBLE}"
        return {row[0]: row[1] for row in self._rows(sql)}

    def remove(self, article_ids: Sequence[str]) -> None:
        ids = {"ids": list(article_ids), **self.gen}
        if not article_ids:
            return
        keys = f"key IN (SELECT key FROM rag_chunks WHERE {VISIBLE} AND article_id = ANY(%(ids)s))"
        self._end("rag_windows", keys, ids)
        self._end("rag_chunks", "article_id = ANY(%(ids)s)", ids)
        self._end("rag_articles", "article_id = ANY(%(ids)s)", ids)

    def move(self, article: Article) -> None:
        """A new version of the article's row with its new source (the old one stays for
        readers of the live generation); nothing when its source is the same."""
        where = "article_id = %(id)s AND (source <> %(source)s OR source_abs <> %(abs)s)"
        params = {"id": article.article_id, "source": article.source,
                  "abs": str(Path(article.source).resolve()), **self.gen}  # fmt: skip
        self.conn.execute(  # a row born in this batch is changed in place
            f"UPDATE rag_articles SET source = %(source)s, source_abs = %(abs)s "
            f"WHERE born = %(gen)s AND {where}",
            params,
        )
        copy = (
            "INSERT INTO rag_articles (article_id, born, seq, title, source, source_abs, "
            "publisher, title_derived, text, published, author, url) "
            "SELECT article_id, %(gen)s, seq, title, %(source)s, %(abs)s, publisher, "
            f"title_derived, text, published, author, url FROM rag_articles WHERE {VISIBLE} "
            f"AND born < %(gen)s AND {where}"
        )
        self.conn.execute(copy, params)
        self._end("rag_articles", f"born < %(gen)s AND {where}", params)

    def stale(self) -> list[Article]:
        sql = (
            f"SELECT {_ARTICLE} FROM rag_articles a WHERE {VISIBLE} AND NOT EXISTS "
            f"(SELECT 1 FROM rag_chunks c WHERE c.article_id = a.article_id AND "
            f"c.born <= %(gen)s AND (c.died IS NULL OR c.died > %(gen)s)) ORDER BY seq"
        )
        return [_article(row) for row in self._rows(sql)]

    def add(self, article: Article, chunks: Sequence[EmbeddedChunk]) -> None:
        if not chunks:
            return
        self._put_article(article)
        keys = [
            row[0]
            for row in self._rows(
                "SELECT nextval('rag_chunk_keys') FROM generate_series(1, %(n)s)", n=len(chunks)
            )
        ]
        keys.sort()
        rows = [
            (key, self.generation, c.chunk_id, c.article_id, c.ordinal, c.text, c.start,
             c.end, c.n_tokens, item.vector, " ".join(words), len(words))
            for key, item in zip(keys, chunks, strict=True)
            for c, words in ((item.chunk, terms(item.chunk.text)),)
        ]  # fmt: skip
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rag_chunks VALUES "
                "(%s, %s, NULL, %s, %s, %s, %s, %s, %s, %s, %s, to_tsvector('simple', %s), %s)",
                rows,
            )
            windows = [
                (key, self.generation, vector)
                for key, item in zip(keys, chunks, strict=True)
                for vector in item.windows
            ]
            cur.executemany(
                "INSERT INTO rag_windows (key, born, vector) VALUES (%s, %s, %s)", windows
            )

    def _put_article(self, article: Article) -> None:
        """Insert the article's row; one kept to be chunked again is replaced (same order)."""
        params = {"id": article.article_id, **self.gen}
        found = self._rows(
            f"SELECT seq FROM rag_articles WHERE {VISIBLE} AND article_id = %(id)s", **params
        )
        self.conn.execute("DELETE FROM rag_articles WHERE born = %(gen)s AND article_id = %(id)s",
                          params)  # fmt: skip
        self._end("rag_articles", "article_id = %(id)s", params)
        seq = found[0][0] if found else self._rows("SELECT nextval('rag_article_seq')")[0][0]
        a = article
        self.conn.execute(
            "INSERT INTO rag_articles (article_id, born, seq, title, source, source_abs, "
            "publisher, title_derived, text, published, author, url) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (a.article_id, self.generation, seq, a.title, a.source,
             str(Path(a.source).resolve()), a.publisher, a.title_derived, a.text,
             a.published, a.author, a.url),
        )  # fmt: skip

    def commit(self) -> dict[str, int]:
        """Make the generation live; the articles and chunks it holds."""
        unchunked = (
            "NOT EXISTS (SELECT 1 FROM rag_chunks c WHERE c.article_id = rag_articles.article_id "
            "AND c.born <= %(gen)s AND (c.died IS NULL OR c.died > %(gen)s))"
        )
        self._end("rag_articles", unchunked, self.gen)  # nothing of them could be found
        counts = {
            "articles": self._rows(f"SELECT count(*) FROM rag_articles WHERE {VISIBLE}")[0][0],
            "chunks": self._rows(f"SELECT count(*) FROM rag_chunks WHERE {VISIBLE}")[0][0],
        }
        if self.made_tables:
            self._build_hnsw()
        self.conn.execute("UPDATE rag_meta SET live = %(gen)s", self.gen)
        self.conn.commit()  # the commit point
        return counts


def _article(row: tuple[Any, ...]) -> Article:
    article_id, title, text, source, publisher, title_derived, published, author, url = row
    return Article(
        article_id,
        title,
        text,
        source,
        publisher,
        bool(title_derived),
        published,
        author,
        url,
    )
