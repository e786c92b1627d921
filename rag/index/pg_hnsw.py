"""The PostgreSQL store's HNSW settings, from the environment.

pgvector's graph has three knobs, and the defaults trade recall for speed in a way that
shows at a million chunks (README, "Search at scale"):

- ``RAG_PG_HNSW_M`` (default 16, pgvector's own): neighbours per node, fixed when the
  index is built;
- ``RAG_PG_EF_CONSTRUCTION`` (default 64, pgvector's own): the candidate list while
  building; a larger one builds a better graph, slower (at 100k chunks 128 took 332 s
  against 187 s and gave recall@10 0.994 against 0.965);
- ``RAG_PG_EF_SEARCH`` (default 200): the candidate list of each query, set on every
  connection that reads; at 1M chunks 200 / 400 / 800 / 1000 gave recall@10 0.678 /
  0.775 / 0.850 / 0.883.

The first two take effect when a writer builds the indexes, which is when it makes the
tables (a new store, or ``rag index --rebuild``); the third on every open. Values outside
pgvector's ranges are refused with the variable's name before any row is written, so a
long fill never fails at its commit.

>>> hnsw_settings({})
Hnsw(m=16, ef_construction=64, ef_search=200)
>>> hnsw_settings({"RAG_PG_HNSW_M": "24", "RAG_PG_EF_CONSTRUCTION": "128"}).build_options()
'WITH (m = 24, ef_construction = 128)'
>>> hnsw_settings({"RAG_PG_HNSW_M": "40", "RAG_PG_EF_CONSTRUCTION": "64"})
Traceback (most recent call last):
rag.errors.ConfigError: RAG_PG_EF_CONSTRUCTION must be at least twice RAG_PG_HNSW_M (80), got 64
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from rag.errors import ConfigError

# name -> (default, lowest, highest): pgvector's own bounds for each setting.
_BOUNDS = {
    "RAG_PG_HNSW_M": (16, 2, 100),
    "RAG_PG_EF_CONSTRUCTION": (64, 4, 1000),
    # Above the retriever's 50 candidates by default, so a ranking is as deep as asked.
    "RAG_PG_EF_SEARCH": (200, 1, 1000),
}


@dataclass(frozen=True)
class Hnsw:
    """The graph's build settings and the query's candidate list."""

    m: int
    ef_construction: int
    ef_search: int

    def build_options(self) -> str:
        """The ``WITH (...)`` of ``CREATE INDEX ... USING hnsw``."""
        return f"WITH (m = {self.m}, ef_construction = {self.ef_construction})"


def hnsw_settings(environ: Mapping[str, str] | None = None) -> Hnsw:
    """The settings from ``environ`` (default ``os.environ``); ConfigError names a bad one."""
    env = os.environ if environ is None else environ
    m, ef_construction, ef_search = (_number(env, name) for name in _BOUNDS)
    if ef_construction < 2 * m:  # pgvector refuses it too, but only at the commit
        raise ConfigError(
            f"RAG_PG_EF_CONSTRUCTION must be at least twice RAG_PG_HNSW_M ({2 * m}), "
            f"got {ef_construction}"
        )
    return Hnsw(m, ef_construction, ef_search)


def _number(env: Mapping[str, str], name: str) -> int:
    default, low, high = _BOUNDS[name]
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return value
