"""The ``ray`` indexing engine: reading, splitting, chunking and embedding as Ray Data stages.

Two pipelines, with the driver's decisions between them (``rag.index.indexer``, the same
for both engines)::

    file paths -> read (tasks) -> split (tasks) ------------------------------> the corpus
    articles to embed -> chunk (tasks) -> embed (actor pool) -> writer.add on the driver

Each embedding actor builds its embedder by name (``make_embedder``) once; the chunk tasks
build one too, for its tokenizer (the chunker asks whether a chunk fits it). Rows carry
plain text and JSON; Ray moves them between processes, nothing is persisted but through
the store's writer, which keeps its lock and its one generation per commit. Rows come back
in order, so the store gives the same keys, chunks and vectors as the local engine.

A file that raises in a stage is skipped with one warning naming it, kept in the index as
an unreadable file is (``rag.index.indexer``), and the run goes on; an article whose chunk
or embed stage raises is left out with one warning, to be tried again by the next run.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rag.errors import ConfigError, EngineError, RagError
from rag.index.base import EmbeddedChunk, StoreWriter
from rag.index.chunking import ChunkSettings, chunk_article
from rag.index.embedders import Embedder, make_embedder, spec_for
from rag.index.indexer import _fits as fits  # the local engine's rule: the same chunks
from rag.index.ray_session import import_ray, start_ray
from rag.ingest.files import (
    NO_ARTICLES,
    PDF_SUFFIXES,
    UNREADABLE,
    Corpus,
    iter_files,
    pdf_articles,
    read_text,
    skip_folder,
)
from rag.ingest.files import split_text as split_file
from rag.types import Article, Chunk

log = logging.getLogger("rag")

Splitter = Callable[[Path, str], list[Article]]


@contextmanager
def ray_engine(
    embedder: Embedder,
    *,
    progress: bool = True,
    address: str | None = None,
    actors: int | None = None,
    split: Splitter = split_file,
) -> Iterator[RayEngine]:
    """A Ray engine for one run: starts a local Ray (or joins ``address``) unless Ray is
    already running, and stops what it started. ``actors``: the embedding actor pool's
    size (default: the cluster's CPUs less one for the other stages, at least one)."""
    ray = import_ray()
    spec = _spec(embedder)
    stop = start_ray(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        size = actors or max(1, cpus - 1)
        batch = int(getattr(embedder, "batch_size", 64))  # what the embedder encodes at once
        threads = max(1, cpus // size)  # the read and chunk tasks take little CPU time
        yield RayEngine(spec, embedder.dim, batch, size, threads, progress, split)
    finally:
        stop()


def _spec(embedder: Embedder) -> str:
    """The name the workers build ``embedder`` from: it must give the same embedder."""
    spec = spec_for(embedder.name)
    try:
        rebuilt: Embedder | None = make_embedder(spec)
    except RagError:
        rebuilt = None
    if rebuilt is None or (rebuilt.name, rebuilt.dim) != (embedder.name, embedder.dim):
        raise ConfigError(
            f"the ray engine builds the embedder by name in each worker, and {embedder.name!r} "
            "is not one: use minilm, hash:DIM or a model folder"
        )
    return spec


@dataclass
class RayEngine:
    spec: str  # the embedder, by name (``make_embedder``)
    dim: int
    batch_size: int  # texts per embedding batch
    actors: int  # size of the embedding actor pool
    threads: int  # torch threads per embedding actor
    progress: bool = True
    split: Splitter = split_file  # one file's text -> its articles (tests make it raise)

    def read(self, paths: Sequence[str | Path]) -> Corpus:
        ray = import_ray()
        corpus = Corpus()
        files = [str(p) for p in iter_files(paths, functools.partial(skip_folder, corpus))]
        if not files:
            return corpus
        rows = ray.data.from_items([{"path": f} for f in files])
        rows = rows.map(_read_row).map(functools.partial(_split_row, split=self.split))
        bar = tqdm(total=len(files), desc="reading", unit="file", disable=not self.progress)
        for row in _in_order(rows):
            articles = [Article(**fields) for fields in json.loads(row["articles"])]
            corpus.take(str(row["path"]), articles, str(row["reason"]))
            bar.update()
        bar.close()
        return corpus

    def embed(self, writer: StoreWriter, articles: list[Article], settings: ChunkSettings) -> int:
        if not articles:
            return 0
        ray = import_ray()
        items = [{"i": i, "article": json.dumps(asdict(a))} for i, a in enumerate(articles)]
        chunk = functools.partial(_chunk_rows, spec=self.spec, settings=settings.to_dict())
        rows = ray.data.from_items(items).flat_map(chunk)
        with warnings.catch_warnings():
            # max_restarts: a crashed actor fails the run (nothing is committed) instead of
            # restarting: Ray Data keeps an actor's constructor in the object store, where a
            # restart cannot count on it, and Ray says so on stderr at every run
            # (ray#53727). Ray 2.60 still takes it, with a deprecation warning (gone in 2.64).
            warnings.simplefilter("ignore", DeprecationWarning)
            rows = rows.map_batches(
                EmbedStage,
                fn_constructor_kwargs={"spec": self.spec, "threads": self.threads},
                batch_size=self.batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.actors),
                num_cpus=1,
                max_restarts=0,
            )
        embedded = 0
        bar = tqdm(total=len(articles), desc="embedding", unit="article", disable=not self.progress)
        for i, ready, error in _by_article(_in_order(rows), self.dim):
            if error:
                log.warning("Skipping %s: %s", articles[i].source, error)
            else:
                writer.add(articles[i], ready)
                embedded += len(ready)
            bar.update()
        bar.close()
        return embedded


def _in_order(rows: Any) -> Iterator[dict[str, Any]]:
    """The rows of a dataset as they are computed, in input order. A failure of Ray itself
    (a worker killed, a stage that cannot run) is one :class:`EngineError` line."""
    ray = import_ray()
    context = rows.context
    context.execution_options.preserve_order = True  # the writer's keys follow this order
    context.enable_progress_bars = False  # ours say what is done in files and articles
    try:
        for batch in rows.iter_batches(batch_size=None, batch_format="numpy"):
            columns = list(batch)
            rows_of = zip(*batch.values(), strict=True)
            yield from (dict(zip(columns, row, strict=True)) for row in rows_of)
    except ray.exceptions.RayError as exc:  # its last line is the cause, e.g. "OSError: ..."
        raise EngineError(f"the Ray run failed, nothing was written: {_last_line(exc)}") from exc


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def _failed(stage: str, exc: BaseException) -> str:
    """The reason a file is skipped when a stage raised on it (kept as if unreadable)."""
    message = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{UNREADABLE} (the {stage} stage raised {type(exc).__name__}: {message})"


def _read_row(row: dict[str, Any]) -> dict[str, Any]:
    """A file's text to split, or a PDF's article (reading a PDF is parsing it)."""
    path, articles = Path(str(row["path"])), ""
    text: str | None = None
    try:
        if path.suffix.lower() in PDF_SUFFIXES:
            found, reason = pdf_articles(path)
            articles = _json(found)
        else:
            text, reason = read_text(path)
    except Exception as exc:  # one file must not end the run: reported by the driver
        text, reason = None, _failed("read", exc)
    return {"path": str(path), "text": text or "", "articles": articles, "reason": reason}


def _split_row(row: dict[str, Any], split: Splitter) -> dict[str, Any]:
    articles, reason = str(row["articles"]), str(row["reason"])
    if not reason and not articles:  # "" until split; a PDF's came from the read stage
        try:
            articles = _json(split(Path(row["path"]), str(row["text"])))
        except Exception as exc:  # one file must not end the run: reported by the driver
            reason = _failed("split", exc)
    if not reason and articles == "[]":
        reason = NO_ARTICLES
    return {"path": row["path"], "articles": articles or "[]", "reason": reason}


def _json(articles: list[Article]) -> str:
    return json.dumps([asdict(a) for a in articles])


@functools.lru_cache(maxsize=4)
def _worker_embedder(spec: str) -> Embedder:
    """One embedder per worker process and name (only its tokenizer is used here)."""
    return make_embedder(spec)


def _chunk_rows(row: dict[str, Any], spec: str, settings: dict[str, int]) -> list[dict[str, Any]]:
    """One row per text to embed: each chunk (its JSON in ``chunk``), then its windows."""
    from rag.index.windows import windows

    i = int(row["i"])
    try:
        article = Article(**json.loads(row["article"]))
        chunks = chunk_article(article, ChunkSettings(**settings), fits(_worker_embedder(spec)))
        out = []
        for c in chunks:
            out.append({"i": i, "chunk": json.dumps(asdict(c)), "text": c.text, "error": ""})
            out.extend({"i": i, "chunk": "", "text": w, "error": ""} for w in windows(c.text))
        return out
    except Exception as exc:  # reported by the driver, naming the article's file
        return [{"i": i, "chunk": "", "text": "", "error": _failed("chunk", exc)}]


class EmbedStage:
    """An embedding actor: builds its embedder by name once, then embeds batches of rows."""

    def __init__(self, spec: str, threads: int = 1) -> None:
        self.embedder = make_embedder(spec)
        if threads > 1:  # Ray gives a one-CPU worker one thread (OMP_NUM_THREADS=1)
            import torch

            torch.set_num_threads(threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        errors = [str(e) for e in batch["error"]]
        texts = [str(t) for t in batch["text"]]
        vectors = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        todo = [n for n, error in enumerate(errors) if not error]
        try:
            vectors[todo] = self.embedder.embed([texts[n] for n in todo])
        except Exception:  # find the rows that fail, so the other articles go on
            for n in todo:
                try:
                    vectors[n] = self.embedder.embed([texts[n]])[0]
                except Exception as exc:
                    errors[n] = _failed("embed", exc)
        out = {"i": batch["i"], "chunk": batch["chunk"], "error": np.array(errors)}
        return {**out, "vector": vectors}


def _by_article(
    rows: Iterable[dict[str, Any]], dim: int
) -> Iterator[tuple[int, list[EmbeddedChunk], str]]:
    """(article number, its embedded chunks, the first error or "") for each article in
    ``rows``: runs of rows with the same ``i``, a chunk's row followed by its windows'."""
    current, error = -1, ""
    parts: list[tuple[Chunk, np.ndarray, list[np.ndarray]]] = []
    for row in rows:
        i = int(row["i"])
        if i != current:
            if current >= 0:
                yield current, _embedded(parts, dim), error
            current, parts, error = i, [], ""
        if error or row["error"]:  # the article is left out: its other rows do not matter
            error = error or str(row["error"])
        elif row["chunk"]:
            parts.append((Chunk(**json.loads(row["chunk"])), row["vector"], []))
        else:
            parts[-1][2].append(row["vector"])
    if current >= 0:
        yield current, _embedded(parts, dim), error


def _embedded(
    parts: list[tuple[Chunk, np.ndarray, list[np.ndarray]]], dim: int
) -> list[EmbeddedChunk]:
    empty = np.zeros((0, dim), dtype=np.float32)
    return [
        EmbeddedChunk(chunk, np.asarray(vector), np.stack(wins) if wins else empty)
        for chunk, vector, wins in parts
    ]
