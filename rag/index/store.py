"""Store kinds by name: each opens a :class:`~rag.index.base.Store` to read and a
:class:`~rag.index.base.StoreWriter` to write. A new kind is one module and one entry.

>>> sorted(STORES)
['faiss']
>>> open_store("nowhere-kind", "index")
Traceback (most recent call last):
...
rag.errors.ConfigError: unknown store kind 'nowhere-kind': use one of ['faiss']
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError
from rag.index.base import IndexSettings, Store, StoreWriter
from rag.index.faiss_store import FaissStore
from rag.index.faiss_writer import FaissWriter
from rag.paths import check_folder

DEFAULT_STORE = "faiss"


@dataclass(frozen=True)
class StoreKind:
    open: Callable[[str | Path], Store]  # the live index at a location, read-only
    # a writer on a location, adding to what it holds unless told to rebuild
    writer: Callable[[str | Path, IndexSettings, bool], AbstractContextManager[StoreWriter]]


STORES: dict[str, StoreKind] = {
    "faiss": StoreKind(FaissStore.open, FaissWriter.open),
}


def store_kind(name: str) -> StoreKind:
    if name not in STORES:
        raise ConfigError(f"unknown store kind {name!r}: use one of {sorted(STORES)}")
    return STORES[name]


def open_store(kind: str, location: str | Path) -> Store:
    opener = store_kind(kind).open
    return opener(check_folder(location, "index folder", write=False))


def open_writer(
    kind: str, location: str | Path, settings: IndexSettings, rebuild: bool = False
) -> AbstractContextManager[StoreWriter]:
    writer = store_kind(kind).writer
    return writer(check_folder(location, "index folder", write=True), settings, rebuild)
