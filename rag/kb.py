"""The Python API that the CLI, the chat UI and the eval all use.

Skipped under doctest: building writes ./index and loads MiniLM.

>>> import rag
>>> kb = rag.build("seeds", "index")          # doctest: +SKIP
>>> kb.search("What did Trump's envoy call the coalition?", k=3)[0].title  # doctest: +SKIP
'Is the 'coalition of the willing' going to work?'
>>> kb.ask("What did Trump's envoy call it?", backend="extractive").text  # doctest: +SKIP
"Trump's special envoy Steve Witkoff called the coalition "a posture and a pose". [1]"
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answer.answerability import AbstainPolicy
from rag.answer.answerers import Answerer
from rag.answer.backends import BACKENDS, LLMS, backend_name
from rag.answer.evidence import EvidenceSelector
from rag.answer.pipeline import answer_stream
from rag.answer.question import clean_question
from rag.errors import ConfigError, InputError
from rag.index.base import Store, check_embedder
from rag.index.changes import FileResult, Progress, add_files, remove_article
from rag.index.chunking import ChunkSettings
from rag.index.embedders import Embedder, make_embedder, spec_for
from rag.index.engines import DEFAULT_ENGINE, open_engine
from rag.index.indexer import IndexReport, index_corpus
from rag.index.retrieval import Retriever, SearchOptions
from rag.index.store import DEFAULT_STORE, locate, open_store
from rag.ingest import uploads
from rag.llm.base import LLM, Message
from rag.types import Answer, Hit

History = Sequence[Message | dict[str, str]] | None


class KnowledgeBase:
    """A loaded index with its embedder; answer backends are made on first use."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        policy: AbstainPolicy | None = None,
        *,
        repoint_citations: bool = True,
        store_kind: str = DEFAULT_STORE,
        location: str | None = None,
        folder: str | Path | None = None,
    ):
        self.store = store
        self.store_kind = store_kind  # to open a writer on it, and the next generation
        # The store's location (a folder, or a URL with its password: store.location has none)
        self.location = location or store.location
        # The local folder (--index): the FAISS store's, or beside a database store, where
        # uploaded files are kept.
        self.folder = Path(folder if folder is not None else self.location)
        self.repoint_citations = repoint_citations  # rag.answer.repoint; off only to measure it
        self.embedder = embedder
        self.retriever = Retriever(store, embedder)
        self.selector = EvidenceSelector(embedder)  # for evidence-first answerers
        self.policy = policy or AbstainPolicy.for_embedder(embedder.name)
        self.report: IndexReport | None = None
        self._answerers: dict[str, Answerer] = {}
        self._llms: dict[str, LLM] = {}
        self._lock = threading.RLock()  # answerer() takes it, then llm() again
        # One change at a time from this process (the store's own lock refuses a second
        # writer, from any process, with an error; here a second upload waits instead).
        self._writing = threading.Lock()

    @property
    def index_dir(self) -> Path:
        """The local folder (``--index``): the FAISS store's files, or the uploads only."""
        return self.folder

    @property
    def uploads_dir(self) -> Path:
        """Where files added from the chat are kept (``rag.ingest.uploads``): under the
        index folder, whichever store holds the index."""
        return self.folder / uploads.FOLDER

    def articles(self) -> list[dict[str, Any]]:
        return self.store.articles()

    def add(
        self, paths: Sequence[str | Path], progress: Progress | None = None
    ) -> list[FileResult]:
        """Index the articles of these files (or folders) that the index lacks, then use the
        new index at once; one :class:`FileResult` per file (indexed, or skipped and why).

        Questions asked meanwhile are answered from the index as it was."""
        with self._writing:
            settings = self.store.settings
            results = add_files(paths, self.location, self.embedder, settings,
                                self.store_kind, progress)  # fmt: skip
            if any(r.status == "indexed" for r in results):
                self.reload()
        return results

    def remove(self, article_id: str) -> dict[str, Any]:
        """Remove one article (by id) and use the new index at once; returns its row from
        :meth:`articles`. The file it came from stays, unless it is an upload nothing
        else was read from. ``rag index`` of its folder would add it again."""
        with self._writing:
            row = next((a for a in self.articles() if a["article_id"] == article_id), None)
            if row is None:
                where = self.store.location
                raise InputError(f"no article {article_id!r} in the index at {where}")
            source = remove_article(article_id, self.location, self.store.settings,
                                    self.store_kind)  # fmt: skip
            self.reload()
            if not any(Path(a["source"]).resolve() == Path(source) for a in self.articles()):
                uploads.forget(Path(source), self.uploads_dir)
        return row

    def reload(self) -> None:
        """Open the store's live generation again (after a change written elsewhere).

        The previous store is left open, not closed: a question being answered holds it
        and finishes on it; it is freed when the last one lets go."""
        store = open_store(self.store_kind, self.location)
        self.store, self.retriever = store, Retriever(store, self.embedder)

    def search(
        self,
        question: str,
        k: int = 5,
        *,
        mode: str = "hybrid",
        mmr: float | None = None,
        article: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Hit]:
        """The passages that best match ``question``, cleaned and checked as ``ask`` does.

        ``article``, ``source``, ``since`` and ``until`` keep only the articles they match:
        see :class:`~rag.index.base.ChunkFilter`."""
        question = clean_question(question)
        options = SearchOptions(
            k=k, mode=mode, mmr=mmr, article=article, source=source, since=since, until=until
        )
        return self.retriever.search(question, options)

    def answerer(self, backend: str | None = None) -> Answerer:
        name = backend_name(backend)
        with self._lock:  # one model load even when several chats ask at once
            if name not in self._answerers:
                llm = self.llm(name) if name in LLMS else None
                self._answerers[name] = BACKENDS[name](llm, self.embedder)
            return self._answerers[name]

    def llm(self, backend: str) -> LLM:
        """The chat model of an LLM backend, shared by its answerer and the eval's judge."""
        if backend not in LLMS:
            known = ", ".join(LLMS)
            raise ConfigError(f"the {backend!r} backend has no LLM; these do: {known}")
        with self._lock:
            if backend not in self._llms:
                self._llms[backend] = LLMS[backend]()
            return self._llms[backend]

    def use_answerer(self, answerer: Answerer) -> None:
        """Register an answerer object under its name (tests, custom backends)."""
        self._answerers[answerer.name] = answerer

    def stream(
        self,
        question: str,
        history: History = None,
        backend: str | None = None,
        k: int = 5,
        *,
        answerer: Answerer | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text pieces, then the final :class:`Answer`.

        ``answerer``, when given, answers instead of the backend's (a chat session's own)."""
        answerer = answerer or self._answerers.get(backend or "") or self.answerer(backend)
        options = SearchOptions(k=k)
        return answer_stream(
            question,
            history,
            self.retriever,
            answerer,
            options,
            self.policy,
            self.repoint_citations,
            self.selector,
        )

    def ask(
        self, question: str, history: History = None, backend: str | None = None, k: int = 5
    ) -> Answer:
        final = None
        for item in self.stream(question, history, backend, k):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # answer_stream always ends with the Answer
        return final


def load(
    index_dir: str | Path = "index",
    *,
    embedder: str | Embedder | None = None,
    store: str | None = None,
) -> KnowledgeBase:
    """Open an index; the embedder defaults to the one the index was made with.

    ``store`` is a store URL (``postgresql://USER@HOST/DB``); without one, ``$RAG_STORE_URL``,
    else the FAISS folder ``index_dir`` (``rag.index.store.locate``). With a URL,
    ``index_dir`` is only where uploaded files are kept.
    """
    where = locate(store, index_dir)
    opened = open_store(where.kind, where.location)
    made = opened.settings
    try:
        if embedder is None:
            embedder = make_embedder(spec_for(made.embedder))
        elif isinstance(embedder, str):
            embedder = make_embedder(embedder)
        check_embedder(made, embedder.name, embedder.dim, opened.location)
    except BaseException:
        opened.close()  # a database store holds a connection
        raise
    return KnowledgeBase(opened, embedder, store_kind=where.kind, location=where.location,
                         folder=index_dir)  # fmt: skip


def build(
    paths: str | Path | Sequence[str | Path] = "seeds",
    index_dir: str | Path = "index",
    *,
    embedder: str | Embedder | None = None,
    settings: ChunkSettings | None = None,
    rebuild: bool = False,
    progress: bool = True,
    store: str | None = None,
    engine: str = DEFAULT_ENGINE,
    ray_address: str | None = None,
) -> KnowledgeBase:
    """Index ``paths`` into ``index_dir`` (or the store URL ``store``, as :func:`load`
    finds it), incrementally, and load the result.

    ``engine`` reads, chunks and embeds: ``"local"`` in this process, ``"ray"`` as Ray Data
    stages (``rag.index.engines``) on a local Ray or the cluster at ``ray_address``."""
    if isinstance(paths, str | Path):
        paths = [paths]
    emb = make_embedder(embedder) if embedder is None or isinstance(embedder, str) else embedder
    with open_engine(engine, emb, progress=progress, address=ray_address) as runner:
        report = index_corpus(
            paths, index_dir, emb, settings, rebuild=rebuild, store=store, engine=runner
        )
    kb = load(index_dir, embedder=emb, store=store)
    kb.report = report
    return kb
