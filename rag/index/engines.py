"""Indexing engines by name: ``local`` (in this process, the default) and ``ray`` (Ray Data
stages, on this machine or a cluster; needs ``pip install 'rag-news[scale]'``).

An engine is opened for one run and closed after it (the Ray one starts Ray and stops what it
started). A new engine is one module and one entry.

>>> sorted(ENGINES)
['local', 'ray']
>>> from rag.index.embedders import make_embedder
>>> with open_engine("local", make_embedder("hash:8"), address="127.0.0.1:6379"):
...     pass
Traceback (most recent call last):
...
rag.errors.ConfigError: a Ray address is for the ray engine: add --engine ray (engine='ray')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from rag.errors import ConfigError
from rag.index.embedders import Embedder
from rag.index.indexer import Engine, LocalEngine

DEFAULT_ENGINE = "local"


@dataclass(frozen=True)
class EngineOptions:
    progress: bool = True
    batch_size: int = 64  # texts per embedding batch (the local engine's)
    address: str | None = None  # a Ray cluster: "HOST:PORT", "ray://HOST:PORT" or "auto"


@contextmanager
def _local(embedder: Embedder, options: EngineOptions) -> Iterator[Engine]:
    if options.address:
        raise ConfigError("a Ray address is for the ray engine: add --engine ray (engine='ray')")
    yield LocalEngine(embedder, options.progress, options.batch_size)


def _ray(embedder: Embedder, options: EngineOptions) -> AbstractContextManager[Engine]:
    from rag.index.ray_engine import ray_engine  # Ray is an optional extra: imported on use

    return ray_engine(embedder, progress=options.progress, address=options.address)


ENGINES: dict[str, Callable[[Embedder, EngineOptions], AbstractContextManager[Engine]]] = {
    "local": _local,
    "ray": _ray,
}


def open_engine(
    name: str,
    embedder: Embedder,
    *,
    progress: bool = True,
    batch_size: int = 64,
    address: str | None = None,
) -> AbstractContextManager[Engine]:
    """The engine ``name`` for one indexing run (use it in a ``with``)."""
    if name not in ENGINES:
        raise ConfigError(f"unknown indexing engine {name!r}: use one of {sorted(ENGINES)}")
    return ENGINES[name](embedder, EngineOptions(progress, batch_size, address))
