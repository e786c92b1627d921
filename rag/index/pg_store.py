"""The PostgreSQL + pgvector store, read side: one pinned generation of the tables.

The tables and generations are described in ``rag/index/pg_schema.py``. Vector rankings
use the HNSW indexes (cosine; iterative scans, so a filter on the generation never
leaves a ranking short); a filter (``allowed``) scores its few chunks exactly. Lexical
search is PostgreSQL's own: BM25 in SQL over the chunks' stemmed terms in a tsvector
under a GIN index (``rag/index/pg_lexical.py``), its exact top n found in rounds that
leave out the chunks that cannot reach it (``rag/index/pg_maxscore.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from rag.index import pg_lexical
from rag.index.base import ChunkFilter, IndexSettings, Ranking, StoredChunk
from rag.index.pg_hnsw import hnsw_settings
from rag.index.pg_maxscore import Frequencies, Pruned, Step, top
from rag.index.pg_schema import VISIBLE, connect, redact, require_meta, settings_of, use_vectors
from rag.types import Chunk

log = logging.getLogger("rag")

WINDOW_DEPTH = 8  # window rows read per chunk wanted (a chunk has several windows)

_CHUNK_ROW = (
    "c.key, c.chunk_id, c.article_id, c.ordinal, c.text, c.start_char, c.end_char, "
    "c.n_tokens, a.title, a.source, a.publisher, a.published, a.author, a.url"
)

# One condition per ChunkFilter field. strpos and right, not LIKE: a % or _ in a filter is a
# plain character.
_FILTER_SQL = {
    "article": "(a.article_id = %(article)s OR strpos(lower(a.title), lower(%(article)s)) > 0)",
    "source": "(a.source = %(source)s OR right(a.source, length(%(source)s)) = %(source)s)",
    # ISO dates sort as text; a NULL date (unknown) fails both comparisons.
    "since": "a.published >= %(since)s",
    "until": "a.published <= %(until)s",
}


class PgStore:
    """One generation of a PostgreSQL store, read-only, on its own connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = redact(url)  # shown in messages: never the password
        self.conn = connect(url)  # autocommit: each read its own snapshot; the generation
        try:  # pins them to one state of the index
            meta = require_meta(self.conn, self.location)
            use_vectors(self.conn, self.location)
            ef_search = hnsw_settings().ef_search  # $RAG_PG_EF_SEARCH
            self.conn.execute(f"SET hnsw.ef_search = {ef_search}")
            _iterative_scans(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self.generation = int(meta["live"])
        self._settings = settings_of(meta)
        self.ranking = "bm25"  # a key of pg_lexical.RANKINGS
        # BM25 in MaxScore rounds; False: pg_lexical.BM25_SQL, every chunk holding a term
        # scored and the document frequencies counted on each query (the reference).
        self.prune = True
        self.stats = self._stats()
        self.frequencies = Frequencies()  # of this generation's terms
        self.last_lexical: Pruned | None = None  # what the last BM25 in rounds scored

    def _stats(self) -> pg_lexical.Stats:
        docs, avg = self._rows(pg_lexical.STATS_SQL)[0]
        return pg_lexical.Stats(int(docs), float(avg))

    @classmethod
    def open(cls, url: str) -> PgStore:
        return cls(str(url))

    @property
    def settings(self) -> IndexSettings:
        return self._settings

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` at this store's generation (``%(gen)s``; ``{visible}`` expands
        to the generation test, ``{a}``/``{c}``/``{w}`` to it on an aliased table)."""
        self._follow()
        sql = sql.format(
            visible=VISIBLE,
            **{
                alias: VISIBLE.replace("born", f"{alias}.born").replace("died", f"{alias}.died")
                for alias in "acw"
            },
        )
        return list(self.conn.execute(sql, {"gen": self.generation, **params}).fetchall())

    def _follow(self) -> None:
        """Move to the live generation if a writer has purged this one's rows (a reader
        more than one generation behind); the several queries of one search may then
        straddle two generations, which only a reader that old can meet."""
        oldest, live = self.conn.execute("SELECT oldest, live FROM rag_meta").fetchone()
        if self.generation < oldest:
            log.info("store %s: generation %d was purged; reading %d", self.location,
                     self.generation, live)  # fmt: skip
            self.generation = int(live)
            self.stats = self._stats()
            self.frequencies = Frequencies()

    def __len__(self) -> int:
        return int(self._rows("SELECT count(*) FROM rag_chunks WHERE {visible}")[0][0])

    def dense(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        if allowed is not None:  # few chunks: exact (an order the HNSW index cannot give)
            sql = (
                "SELECT key, 1 - (vector <=> %(q)s) AS s FROM rag_chunks "
                "WHERE {visible} AND key = ANY(%(keys)s) ORDER BY s DESC, key LIMIT %(n)s"
            )
            return self._ranking(sql, q=query, keys=sorted(allowed), n=n)
        sql = (
            "SELECT key, 1 - (vector <=> %(q)s) FROM rag_chunks WHERE {visible} "
            "ORDER BY vector <=> %(q)s LIMIT %(n)s"
        )
        return self._ranking(sql, q=query, n=n)

    def dense_windows(self, query: np.ndarray, n: int, allowed: set[int] | None = None) -> Ranking:
        if allowed is not None:
            inner = (
                "SELECT key, 1 - (vector <=> %(q)s) AS s FROM rag_windows "
                "WHERE {visible} AND key = ANY(%(keys)s)"
            )
            params: dict[str, Any] = {"keys": sorted(allowed)}
        else:  # several windows per chunk: read deep enough to rank n chunks
            inner = (
                "SELECT key, 1 - (vector <=> %(q)s) AS s FROM rag_windows WHERE {visible} "
                "ORDER BY vector <=> %(q)s LIMIT %(depth)s"
            )
            params = {"depth": n * WINDOW_DEPTH}
        sql = f"SELECT key, max(s) AS best FROM ({inner}) w GROUP BY key "
        return self._ranking(sql + "ORDER BY best DESC, key LIMIT %(n)s", q=query, n=n, **params)

    def lexical(self, query: str, n: int, allowed: set[int] | None = None) -> Ranking:
        """BM25 in SQL (``rag/index/pg_lexical.py``), above zero only: in MaxScore rounds
        (``rag/index/pg_maxscore.py``), or as the reference when ``prune`` is off."""
        given = pg_lexical.params(query, self.stats)
        if not given["query"]:
            return []
        only = "AND key = ANY(%(keys)s)" if allowed is not None else ""
        keys = sorted(allowed) if allowed is not None else None
        if self.ranking != "bm25" or not self.prune:
            sql = pg_lexical.RANKINGS[self.ranking].replace("{only}", only)
            return [(k, s) for k, s in self._ranking(sql, n=n, keys=keys, **given) if s > 0]
        words = pg_lexical.unique_terms(query)
        dfs = self.frequencies.get(words, self._count)
        sql = pg_lexical.ROUND_SQL.replace("{only}", only)
        given["dfs"] = [dfs[t] for t in words]

        def one_round(step: Step, n: int) -> tuple[Ranking, int]:
            matching = pg_lexical.either(step.terms, step.earlier, step.groups)
            rows = self._rows(sql, **{**given, "query": matching}, n=n, keys=keys)
            return [(int(k), float(s)) for k, s, _ in rows], int(rows[0][2]) if rows else 0

        # When every allowed chunk fits in the n places there is nothing to leave out.
        prune = allowed is None or len(allowed) > n
        self.last_lexical = top(dfs, self.stats.docs, n, one_round, prune)
        return [(k, s) for k, s in self.last_lexical.ranking if s > 0]

    def _count(self, terms: list[str]) -> dict[str, int]:
        """Document frequencies of ``terms`` in this generation (through the GIN index)."""
        return {t: int(df) for t, df in self._rows(pg_lexical.DF_SQL, terms=terms)}

    def _ranking(self, sql: str, **params: Any) -> Ranking:
        return [(int(key), float(score)) for key, score in self._rows(sql, **params)]

    def knows(self, term: str) -> bool:
        sql = (
            "SELECT EXISTS (SELECT 1 FROM rag_chunks WHERE {visible} "
            "AND terms @@ to_tsquery('simple', %(term)s))"
        )
        return bool(self._rows(sql, term=pg_lexical.tsquery(term) or "''")[0][0])

    def vector(self, key: int) -> np.ndarray:
        rows = self._rows("SELECT vector FROM rag_chunks WHERE key = %(key)s", key=key)
        if not rows:
            raise KeyError(key)
        value = rows[0][0]  # a pgvector Vector (an ndarray with older pgvector packages)
        return np.asarray(getattr(value, "to_numpy", lambda: value)(), dtype=np.float32)

    def chunks(self, keys: Sequence[int]) -> dict[int, StoredChunk]:
        if not keys:
            return {}
        sql = (
            f"SELECT {_CHUNK_ROW} FROM rag_chunks c JOIN rag_articles a "
            "ON a.article_id = c.article_id AND {a} WHERE {c} AND c.key = ANY(%(keys)s)"
        )
        return {int(row[0]): _stored(row) for row in self._rows(sql, keys=list(keys))}

    def lead(self, article_id: str, n: int) -> list[int]:
        sql = (
            "SELECT key FROM rag_chunks WHERE {visible} AND article_id = %(id)s "
            "ORDER BY ordinal LIMIT %(n)s"
        )
        return [int(row[0]) for row in self._rows(sql, id=article_id, n=n)]

    def ids_where(self, filter: ChunkFilter) -> set[int]:
        sql = (
            "SELECT c.key FROM rag_chunks c JOIN rag_articles a "
            "ON a.article_id = c.article_id AND {a} WHERE {c}"
        )
        sql += filter.conditions(_FILTER_SQL)
        return {int(row[0]) for row in self._rows(sql, **asdict(filter))}

    def articles(self) -> list[dict[str, Any]]:
        sql = (
            "SELECT a.article_id, a.title, a.source, a.publisher, a.title_derived, "
            "a.published, a.author, a.url, count(c.key) AS chunks FROM rag_articles a "
            "LEFT JOIN rag_chunks c ON c.article_id = a.article_id AND {c} WHERE {a} "
            "GROUP BY a.article_id, a.seq, a.title, a.source, a.publisher, a.title_derived, "
            "a.published, a.author, a.url ORDER BY a.source, a.seq"
        )
        names = ("article_id", "title", "source", "publisher", "title_derived", "published",
                 "author", "url", "chunks")  # fmt: skip
        return [dict(zip(names, row, strict=True)) for row in self._rows(sql)]


def _iterative_scans(conn: Any) -> None:
    """Let a filtered HNSW scan go on until it has its LIMIT (pgvector 0.8 and later);
    an older pgvector lacks the setting, and ``hnsw.ef_search`` alone keeps rankings deep."""
    import psycopg

    try:
        conn.execute("SET hnsw.iterative_scan = strict_order")
    except psycopg.Error as exc:
        log.info("pgvector without iterative index scans: %s", exc)


def _stored(row: tuple[Any, ...]) -> StoredChunk:
    key, chunk_id, article_id, ordinal, text, start, end, n_tokens = row[:8]
    title, source, publisher, published, author, url = row[8:]
    chunk = Chunk(chunk_id, article_id, ordinal, text, start, end, n_tokens)
    return StoredChunk(int(key), chunk, title, source, publisher, published, author, url)
