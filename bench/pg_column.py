"""The pgvector column of ``bench/search.py``: a synthetic corpus in a PostgreSQL store.

By default a private PostgreSQL 18 with pgvector (``rag/index/pg_private.py``, the one
the ``postgres`` tests start) keeps its data under ``bench/.cache/postgres``: one database
per corpus size, filled once through the store's own writer (``PgWriter``: one
transaction, the HNSW indexes built at its commit, here with 12 GB of
``maintenance_work_mem``) and reused while it holds the corpus's chunks. ``--pg URL``
uses a server of your own instead; its database is rebuilt every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from synthetic import CACHE, SETTINGS, Corpus, write_through

from rag.errors import RagError
from rag.index.pg_private import create_database, drop_database, private_server, with_database
from rag.index.pg_schema import connect, redact
from rag.index.store import STORES

BUILD_MEMORY = "12GB"  # 1M chunks: the 4M-window graph is ~8 GB; your server keeps its own
Databases = Callable[[Corpus], str]  # a corpus -> the URL of a database holding it


@dataclass(frozen=True)
class Sizes:
    """What the server holds for one corpus, in MB."""

    database: float  # on disk, every table and index
    hnsw: float  # the two HNSW indexes: what must stay in memory for fast search


def fill(url: str, corpus: Corpus) -> str:
    """Write the corpus into the store at ``url`` (rebuilt) through its writer."""
    print(f"  pgvector: filling {redact(url)} with {corpus.chunks:,} chunks through PgWriter")
    started = time.perf_counter()
    with STORES["postgresql"].writer(url, SETTINGS, True) as writer:
        write_through(corpus, writer)
    took = time.perf_counter() - started
    print(f"  pgvector: filled in {took:.0f} s ({corpus.chunks / took:.0f} chunks/s with windows)")
    return url


def held(url: str) -> int:
    """Chunks live in the store at ``url``, -1 when it holds no index."""
    try:
        store = STORES["postgresql"].open(url)
    except RagError:
        return -1
    try:
        return len(store)
    finally:
        store.close()


def sizes(url: str) -> Sizes:
    conn = connect(url)
    try:
        database, hnsw = conn.execute(
            "SELECT pg_database_size(current_database()), "
            "pg_relation_size('rag_chunks_hnsw') + pg_relation_size('rag_windows_hnsw')"
        ).fetchone()
    finally:
        conn.close()
    return Sizes(database / 2**20, hnsw / 2**20)


@contextmanager
def databases(url: str | None) -> Iterator[Databases]:
    """Databases for the corpora: in the database at ``url`` (refilled each time), else
    on the private server, kept between runs."""
    if url:
        yield lambda corpus: fill(url, corpus)
        return
    started = time.perf_counter()
    with private_server(CACHE / "postgres") as server:
        print(f"  pgvector: private PostgreSQL started in {time.perf_counter() - started:.1f} s")

        def database(corpus: Corpus) -> str:
            name = corpus.name.replace("-", "_")
            url = with_database(server.get_uri(), name)
            if held(url) == corpus.chunks:
                print(f"  pgvector: {name} already holds the corpus (bench/.cache/postgres)")
                return url
            drop_database(server, name)
            create_database(server, name)
            admin = connect(server.get_uri())
            try:  # the HNSW build at the first commit, in memory while the graph fits
                admin.execute(f"ALTER DATABASE {name} SET maintenance_work_mem = '{BUILD_MEMORY}'")
            finally:
                admin.close()
            return fill(url, corpus)

        yield database
