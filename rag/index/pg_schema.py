"""The PostgreSQL store's tables, its connections and the one row that says what it holds.

Tables (prefixed ``rag_``, so they can share a database)::

    rag_meta      one row: schema version, live generation, the oldest generation whose
                  rows are all still there, embedder, dim, chunker settings
    rag_articles  (article_id, born): the article's text and metadata, per version
    rag_chunks    key, the chunk's row, vector(dim) (HNSW, cosine), its terms as a
                  tsvector (GIN) and their number, for BM25 (rag/index/pg_lexical.py)
    rag_windows   one vector(dim) per sentence window (HNSW, cosine) and its chunk's key

Every row carries ``born`` and ``died`` generations: it belongs to generation G when
``born <= G`` and ``died`` is null or above G. A writer (``rag/index/pg_writer.py``)
writes generation live+1 in one transaction and makes it live at commit; a reader
(``rag/index/pg_store.py``) pins the generation live when it opened, so the several
queries of one search see one generation even while a writer commits the next.

>>> redact("postgresql://ann:s3cret@db.example:5432/news?sslmode=require&password=x")
'postgresql://ann@db.example:5432/news?sslmode=require'
>>> redact("C:/news index")
'C:/news index'
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rag.errors import ConfigError, IndexMismatch, IndexNotFound, ModelNotFound
from rag.index.base import IndexSettings

SCHEMA_VERSION = 1
SCHEMES = ("postgresql", "postgres")
# pg_try_advisory_lock key: one writer per database ("rag-news" as a number).
LOCK_KEY = 0x7261676E657773
VISIBLE = "born <= %(gen)s AND (died IS NULL OR died > %(gen)s)"

META = """
CREATE TABLE IF NOT EXISTS rag_meta (
    id int PRIMARY KEY CHECK (id = 1), schema_version int NOT NULL,
    live bigint NOT NULL, oldest bigint NOT NULL,
    embedder text NOT NULL, dim int NOT NULL, chunker jsonb NOT NULL)
"""


def tables(dim: int) -> list[str]:
    """The statements that create the data tables for vectors of ``dim`` numbers, without
    their HNSW indexes (:func:`hnsw`: built once the first batch is in)."""
    return [
        """CREATE TABLE rag_articles (
            article_id text NOT NULL, born bigint NOT NULL, died bigint, seq bigint NOT NULL,
            title text NOT NULL, source text NOT NULL, source_abs text NOT NULL,
            publisher text NOT NULL, title_derived boolean NOT NULL, text text NOT NULL,
            published text, author text NOT NULL, url text NOT NULL,
            PRIMARY KEY (article_id, born))""",
        "CREATE SEQUENCE rag_article_seq",
        "CREATE INDEX rag_articles_published ON rag_articles (published)",
        f"""CREATE TABLE rag_chunks (
            key bigint PRIMARY KEY, born bigint NOT NULL, died bigint,
            chunk_id text NOT NULL, article_id text NOT NULL, ordinal int NOT NULL,
            text text NOT NULL, start_char int NOT NULL, end_char int NOT NULL,
            n_tokens int NOT NULL, vector vector({dim}) NOT NULL, terms tsvector NOT NULL,
            n_terms int NOT NULL)""",
        "CREATE SEQUENCE rag_chunk_keys",
        "CREATE INDEX rag_chunks_article ON rag_chunks (article_id, ordinal)",
        "CREATE INDEX rag_chunks_terms ON rag_chunks USING gin (terms)",
        f"""CREATE TABLE rag_windows (
            id bigserial PRIMARY KEY, key bigint NOT NULL, born bigint NOT NULL,
            died bigint, vector vector({dim}) NOT NULL)""",
        "CREATE INDEX rag_windows_key ON rag_windows (key)",
    ]


# Built by the writer that made the tables, at its commit, over every row at once:
# pgvector builds an index faster over loaded rows than row by row (and the tables are
# not visible to any reader before that commit).
def hnsw(options: str) -> tuple[str, ...]:
    """The two HNSW indexes; ``options`` is a ``WITH (...)`` of build settings
    (:mod:`rag.index.pg_hnsw`)."""
    head = "CREATE INDEX rag_{t}_hnsw ON rag_{t} USING hnsw (vector vector_cosine_ops)"
    return tuple(f"{head.format(t=t)} {options}" for t in ("chunks", "windows"))


DROP = (
    "DROP TABLE IF EXISTS rag_windows, rag_chunks, rag_articles",
    "DROP SEQUENCE IF EXISTS rag_article_seq, rag_chunk_keys",
)


def redact(url: str) -> str:
    """The URL without its password (in the user part or a ``password=`` parameter); a
    folder path as it is."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")
        if netloc[1]:
            user = netloc[0].split(":", 1)[0]
            parts = parts._replace(netloc=f"{user}@{netloc[2]}")
        query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"]
        return urlunsplit(parts._replace(query=urlencode(query, safe="/")))
    except ValueError:  # a URL too broken to split: show its scheme only
        return url.split(":", 1)[0] + "://…"


def connect(url: str) -> Any:
    """A psycopg connection (autocommit); errors name the URL, never its password."""
    try:
        import psycopg
    except ImportError as exc:
        raise ModelNotFound(
            "the PostgreSQL store needs psycopg and pgvector: pip install 'rag-news[postgresql]'"
        ) from exc
    shown = redact(url)
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True)
    except (psycopg.Error, ValueError) as exc:
        reason = _first_line(str(exc)).replace(url, shown)
        raise ConfigError(f"cannot connect to the PostgreSQL store {shown}: {reason}") from exc


def use_vectors(conn: Any, shown: str, *, create: bool = False) -> None:
    """Register pgvector's type on ``conn``; ``create`` (a writer) installs the extension
    in the database when it is missing."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        if create:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    except psycopg.Error as exc:
        raise ConfigError(
            f"the PostgreSQL store {shown} has no pgvector extension "
            f"({_first_line(str(exc))}): install pgvector on the server and run "
            "'CREATE EXTENSION vector' in that database as a superuser"
        ) from exc


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["unknown error"])[0]


def read_meta(conn: Any, shown: str) -> dict[str, Any] | None:
    """The meta row, checked against this code's schema version; None when there is none."""
    found = conn.execute("SELECT to_regclass('rag_meta') IS NOT NULL").fetchone()[0]
    row = None
    if found:
        sql = "SELECT schema_version, live, oldest, embedder, dim, chunker FROM rag_meta"
        row = conn.execute(sql).fetchone()
    if row is None:
        return None
    version = row[0]
    if version > SCHEMA_VERSION:
        raise IndexMismatch(
            f"the PostgreSQL store {shown} has schema version {version}, newer than this "
            f"rag-news reads ({SCHEMA_VERSION}): upgrade rag-news, or index into another database"
        )
    keys = ("schema_version", "live", "oldest", "embedder", "dim", "chunker")
    return dict(zip(keys, row, strict=True))


def settings_of(meta: dict[str, Any]) -> IndexSettings:
    chunker = meta["chunker"]
    if isinstance(chunker, str):
        chunker = json.loads(chunker)
    return IndexSettings(meta["embedder"], int(meta["dim"]), dict(chunker))


def require_meta(conn: Any, shown: str) -> dict[str, Any]:
    meta = read_meta(conn, shown)
    if meta is None or meta["live"] == 0:
        raise IndexNotFound(f"no index in {shown}: run 'rag index PATH --store URL' first")
    return meta
