"""Store kinds by name, and where a store is: each kind opens a
:class:`~rag.index.base.Store` to read and a :class:`~rag.index.base.StoreWriter` to
write. A new kind is one module and one entry.

A store's location is a folder (the FAISS store, the default: ``--index DIR``) or a URL
whose scheme names its kind (``--store postgresql://USER@HOST/DB``, or
``$RAG_STORE_URL``); ``--store faiss`` picks the folder even when the variable is set.

>>> sorted(STORES)
['faiss', 'postgresql']
>>> locate(None, "index", env={})
Where(kind='faiss', location='index')
>>> locate("postgres://ann:pw@db/news", "index").kind
'postgresql'
>>> locate("mysql://ann:pw@db/news", "index")
Traceback (most recent call last):
...
rag.errors.ConfigError: unknown store URL 'mysql://ann@db/news': the scheme must be one of ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.index.base import IndexSettings, Store, StoreWriter
from rag.index.faiss_store import FaissStore
from rag.index.faiss_writer import FaissWriter
from rag.index.pg_schema import SCHEMES as PG_SCHEMES
from rag.index.pg_schema import redact
from rag.index.pg_store import PgStore
from rag.index.pg_writer import PgWriter
from rag.paths import check_folder

DEFAULT_STORE = "faiss"
STORE_ENV = "RAG_STORE_URL"


@dataclass(frozen=True)
class StoreKind:
    open: Callable[[str], Store]  # the live index at a location, read-only
    # a writer on a location, adding to what it holds unless told to rebuild
    writer: Callable[[str, IndexSettings, bool], AbstractContextManager[StoreWriter]]
    schemes: tuple[str, ...] = ()  # URL schemes naming a location of this kind; () a folder


def _open_folder(location: str) -> Store:
    return FaissStore.open(check_folder(location, "index folder", write=False))


@contextmanager
def _folder_writer(location: str, settings: IndexSettings, rebuild: bool) -> Iterator[StoreWriter]:
    with FaissWriter.open(check_folder(location, "index folder", write=True), settings,
                          rebuild) as writer:  # fmt: skip
        yield writer


STORES: dict[str, StoreKind] = {
    "faiss": StoreKind(_open_folder, _folder_writer),
    "postgresql": StoreKind(PgStore.open, PgWriter.open, PG_SCHEMES),
}


@dataclass(frozen=True)
class Where:
    """A store: its kind (a key of ``STORES``) and its location (a folder or a URL)."""

    kind: str
    location: str


def locate(store: str | None, index: str | Path, env: Mapping[str, str] = os.environ) -> Where:
    """The store a command works on: ``store`` (a URL, or a kind's name for its folder),
    else ``$RAG_STORE_URL``, else the FAISS folder ``index``."""
    given = store if store is not None else env.get(STORE_ENV) or None
    if given is None or given == DEFAULT_STORE:
        return Where(DEFAULT_STORE, str(index))
    scheme = given.split("://", 1)[0].lower() if "://" in given else ""
    for name, kind in STORES.items():
        if scheme in kind.schemes:
            return Where(name, given)
    known = ", ".join(s for kind in STORES.values() for s in kind.schemes)
    raise ConfigError(
        f"unknown store URL {redact(given)!r}: the scheme must be one of {known} "
        "(or leave --store out for the FAISS folder --index)"
    )


def store_kind(name: str) -> StoreKind:
    if name not in STORES:
        raise ConfigError(f"unknown store kind {name!r}: use one of {sorted(STORES)}")
    return STORES[name]


def open_store(kind: str, location: str | Path) -> Store:
    return store_kind(kind).open(str(location))


def open_writer(
    kind: str, location: str | Path, settings: IndexSettings, rebuild: bool = False
) -> AbstractContextManager[StoreWriter]:
    return store_kind(kind).writer(str(location), settings, rebuild)
