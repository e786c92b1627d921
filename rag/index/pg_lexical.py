"""Lexical search inside PostgreSQL: BM25 over the chunks' tsvectors, or ``ts_rank_cd``.

Each chunk holds its stemmed terms (``rag.text.words.terms``, the ones the FAISS store's
BM25 counts) as a ``tsvector`` under a GIN index, and their number (``n_terms``). A query
finds its chunks through the index (any of its terms), then scores them with BM25 in
SQL: a term's frequency is the length of its position list, its document frequency a
count through the same index, the number of chunks and their mean length are the
reader's generation's (:class:`Stats`). The scores are those of ``rag/index/bm25.py``.

``ts_rank_cd`` (PostgreSQL's cover density) was measured against it on the eval and
retrieves worse (README, "PostgreSQL store"); ``scripts/pg_lexical.py`` measures both.

>>> tsquery("Drone strikes, drones")
"'dron' | 'strik'"
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.text.words import terms

K1, B = 1.2, 0.75  # as rag/index/bm25.py

# {only} narrows to allowed keys; {visible}/{c} are the generation tests (PgStore._rows).
BM25_SQL = """
WITH df AS MATERIALIZED (
    SELECT t, (SELECT count(*) FROM rag_chunks c WHERE {c}
               AND c.terms @@ to_tsquery('simple', quote_literal(t))) AS df
    FROM unnest(%(terms)s::text[]) AS t),
hits AS (
    SELECT key, n_terms, terms FROM rag_chunks
    WHERE {visible} AND terms @@ to_tsquery('simple', %(query)s) {only})
SELECT h.key, sum(
    ln(1 + (%(docs)s - df.df + 0.5) / (df.df + 0.5)) * u.tf * (%(k1)s + 1)
    / (u.tf + %(k1)s * (1 - %(b)s + %(b)s * h.n_terms / %(avg)s))) AS s
FROM hits h
CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1) AS tf
    FROM unnest(ts_filter(setweight(h.terms, 'A', %(terms)s::text[]), '{{a}}'))) u
JOIN df ON df.t = u.lexeme
GROUP BY h.key ORDER BY s DESC, h.key LIMIT %(n)s
"""

TS_RANK_SQL = """
SELECT key, ts_rank_cd(terms, query) AS s
FROM rag_chunks, to_tsquery('simple', %(query)s) query
WHERE {visible} AND terms @@ query {only} ORDER BY s DESC, key LIMIT %(n)s
"""

RANKINGS = {"bm25": BM25_SQL, "ts_rank_cd": TS_RANK_SQL}
STATS_SQL = "SELECT count(*), coalesce(avg(n_terms), 0) FROM rag_chunks WHERE {visible}"


@dataclass(frozen=True)
class Stats:
    """What BM25 needs of a whole generation: its chunks and their mean number of terms."""

    docs: int
    avg_terms: float


def tsquery(text: str) -> str:
    """A tsquery matching any of the text's terms (terms are [a-z0-9]: nothing to escape)."""
    return " | ".join(f"'{t}'" for t in dict.fromkeys(terms(text)))


def params(text: str, stats: Stats) -> dict[str, object]:
    """The parameters of either ranking for the query ``text``."""
    unique = list(dict.fromkeys(terms(text)))
    return {
        "terms": unique,
        "query": tsquery(text),
        "docs": stats.docs,
        "avg": stats.avg_terms or 1.0,
        "k1": K1,
        "b": B,
    }
