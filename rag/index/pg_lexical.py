"""Lexical search inside PostgreSQL: BM25 over the chunks' tsvectors, or ``ts_rank_cd``.

Each chunk holds its stemmed terms (``rag.text.words.terms``, the ones the FAISS store's
BM25 counts) as a ``tsvector`` under a GIN index, and their number (``n_terms``). A query
finds its chunks through the index, then scores them with BM25 in SQL: a term's
frequency is the length of its position list, its document frequency a count through
the same index, the number of chunks and their mean length are the reader's
generation's (:class:`Stats`). The scores are those of ``rag/index/bm25.py``.

:data:`BM25_SQL` scores every chunk holding any query term and counts the terms'
document frequencies on every query: the reference. The store ranks the same way in
rounds instead (:data:`ROUND_SQL`, ``rag/index/pg_maxscore.py``), with document
frequencies counted once (:data:`DF_SQL`) and kept by the store for its generation.

``ts_rank_cd`` (PostgreSQL's cover density) was measured against it on the eval and
retrieves worse (README, "PostgreSQL store"); ``scripts/pg_lexical.py`` measures both.

>>> tsquery("Drone strikes, drones")
"'dron' | 'strik'"
>>> either(["envoy", "coalit"], ["trump", "call"])
"('envoy' | 'coalit') & !('trump' | 'call')"
>>> either(["call"], ["envoy"], [["will"], ["coalit", "trump"]])
"(('call') & (('will') | ('coalit' & 'trump'))) & !('envoy')"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.index.bm25 import K1, B
from rag.text.words import terms

# A term's document frequency in the generation ({c}), through the GIN index.
_COUNT = """(SELECT count(*) FROM rag_chunks c WHERE {c}
               AND c.terms @@ to_tsquery('simple', quote_literal(t)))"""
DF_SQL = f"SELECT t, {_COUNT} FROM unnest(%(terms)s::text[]) AS t"

# Chunks matching %(query)s, scored on every query term (%(terms)s) with the document
# frequencies of the CTE ``df``. {only} narrows to allowed keys; {visible}/{c} are the
# generation tests (PgStore._rows).
_SCORED = """
hits AS (
    SELECT key, n_terms, terms FROM rag_chunks
    WHERE {visible} AND terms @@ to_tsquery('simple', %(query)s) {only})
SELECT h.key, sum(
    ln(1 + (%(docs)s - df.df + 0.5) / (df.df + 0.5)) * u.tf * (%(k1)s + 1)
    / (u.tf + %(k1)s * (1 - %(b)s + %(b)s * h.n_terms / %(avg)s))) AS s{counted}
FROM hits h
CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1) AS tf
    FROM unnest(ts_filter(setweight(h.terms, 'A', %(terms)s::text[]), '{{a}}'))) u
JOIN df ON df.t = u.lexeme
GROUP BY h.key ORDER BY s DESC, h.key LIMIT %(n)s
"""

# The reference: every chunk holding any term, document frequencies counted each time.
BM25_SQL = f"""
WITH df AS MATERIALIZED (
    SELECT t, {_COUNT} AS df
    FROM unnest(%(terms)s::text[]) AS t),{_SCORED.replace("{counted}", "")}"""

# One round of the pruned ranking: document frequencies given (%(dfs)s, bigint as
# count(*)'s, so the arithmetic and the scores are the reference's); also how many
# chunks the round scored (the window counts groups before the LIMIT).
ROUND_SQL = f"""
WITH df AS MATERIALIZED (
    SELECT * FROM unnest(%(terms)s::text[], %(dfs)s::bigint[]) AS df(t, df)),\
{_SCORED.replace("{counted}", ", count(*) OVER ()")}"""

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


def unique_terms(text: str) -> list[str]:
    """The text's stemmed terms, each once, in order."""
    return list(dict.fromkeys(terms(text)))


def tsquery(text: str) -> str:
    """A tsquery matching any of the text's terms (terms are [a-z0-9]: nothing to escape)."""
    return either(unique_terms(text))


def either(
    words: Sequence[str], none_of: Sequence[str] = (), groups: Sequence[Sequence[str]] = ()
) -> str:
    """A tsquery matching any of ``words`` (stemmed terms), and all the terms of one of the
    ``groups`` when there are groups, and none of ``none_of``."""
    query = " | ".join(f"'{t}'" for t in words)
    if groups:
        alternatives = " | ".join("(" + " & ".join(f"'{t}'" for t in g) + ")" for g in groups)
        query = f"({query}) & ({alternatives})"
    return f"({query}) & !({either(none_of)})" if none_of else query


def params(text: str, stats: Stats) -> dict[str, object]:
    """The parameters of either ranking for the query ``text``."""
    return {
        "terms": unique_terms(text),
        "query": tsquery(text),
        "docs": stats.docs,
        "avg": stats.avg_terms or 1.0,
        "k1": K1,
        "b": B,
    }
