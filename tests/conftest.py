"""Shared pytest fixtures: seed paths, a fast hash-embedder index, the real MiniLM index.

The two indexes are built once per session and shared, so no test may change them:
``hash_kb`` and ``minilm_kb`` refuse ``use_answerer`` and attribute assignments. A test
that registers an answerer or swaps the policy takes ``own_hash_kb``/``own_minilm_kb``, a
private :class:`rag.KnowledgeBase` over the same (read-only) index, which costs nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests must pass with the network off
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("RAG_STORE_URL", None)  # a developer's store must not take the tests' indexes

# A scriptable OpenAI-compatible server on loopback; see tests/fake_openai_server.py.
import rag
from rag.answer.answerers import Answerer
from rag.evaluation.records import Question
from rag.index.embedders import Embedder, make_embedder
from rag.types import Hit

from fake_openai_server import openai_server
from pg_fixtures import pg_server, pg_url

if TYPE_CHECKING:
    from rag.llm.local import LocalLLM

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

__all__ = ["openai_server", "pg_server", "pg_url"]


class SharedKnowledgeBase(rag.KnowledgeBase):
    """A knowledge base many tests share: it refuses what would change it for the others."""

    def __init__(self, kb: rag.KnowledgeBase) -> None:
        super().__init__(kb.store, kb.embedder, kb.policy, repoint_citations=kb.repoint_citations)
        self.report = kb.report
        self._shared = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_shared", False):
            raise AttributeError(f"{name!r}: a shared fixture; take own_hash_kb or own_minilm_kb")
        super().__setattr__(name, value)

    def use_answerer(self, answerer: Answerer) -> None:
        raise AttributeError("a shared fixture; register answerers on own_hash_kb/own_minilm_kb")


def own(kb: rag.KnowledgeBase) -> rag.KnowledgeBase:
    """A private knowledge base over ``kb``'s index, for a test to change as it likes."""
    return rag.KnowledgeBase(kb.store, kb.embedder, repoint_citations=kb.repoint_citations)


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the seeds that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def hash_kb(tmp_path_factory: pytest.TempPathFactory) -> rag.KnowledgeBase:
    """The seeds indexed with the deterministic hash embedder (fast); read-only."""
    directory = tmp_path_factory.mktemp("hash-index")
    return SharedKnowledgeBase(rag.build(SEEDS, directory, embedder="hash:256", progress=False))


@pytest.fixture(scope="session")
def minilm_embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    return make_embedder("minilm")


@pytest.fixture(scope="session")
def minilm_kb(
    tmp_path_factory: pytest.TempPathFactory, minilm_embedder: Embedder
) -> rag.KnowledgeBase:
    """The seeds indexed with the real MiniLM, once per session; read-only."""
    directory = tmp_path_factory.mktemp("minilm-index")
    kb = rag.build(SEEDS, directory, embedder=minilm_embedder, progress=False)
    return SharedKnowledgeBase(kb)


@pytest.fixture
def own_hash_kb(hash_kb: rag.KnowledgeBase) -> rag.KnowledgeBase:
    return own(hash_kb)


@pytest.fixture
def own_minilm_kb(minilm_kb: rag.KnowledgeBase) -> rag.KnowledgeBase:
    return own(minilm_kb)


@pytest.fixture(scope="session")
def local_llm() -> Iterator[LocalLLM]:
    """The real bundled local model, loaded on first use, once per session."""
    from rag.llm.local import LocalLLM

    llm = LocalLLM()
    yield llm
    llm.close()  # before interpreter exit, where llama-cpp-python would print a traceback


# ---- hand-made evaluation records, shared by test_evaluation and test_quote_support ----


def hit(i: int, text: str) -> Hit:
    return Hit(f"a:{i}", "a", "T", "x.txt", text, 0, len(text), 1.0, dense_score=0.9)


ESPER = Question(
    "q1",
    "Which defense secretary admitted the road ahead won't be easy?",
    True,
    "factual",
    answers=("Mark Esper", "Esper"),
    evidence="his defense secretary Mark Esper admitted “the road ahead won’t be easy”",
)
RIGHT = hit(1, "In Doha, his defense secretary Mark Esper admitted “the road ahead won’t be easy”.")
OTHER = hit(2, "Drones struck an oil refinery deep inside Russia on Tuesday night.")
