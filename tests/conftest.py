"""Shared pytest fixtures: seed paths, a fast hash-embedder index, the real MiniLM index."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tests must pass with the network off
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# A scriptable OpenAI-compatible server on loopback; see tests/fake_openai_server.py.
import rag

from fake_openai_server import openai_server

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

__all__ = ["openai_server"]


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the seeds that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def hash_kb(tmp_path_factory: pytest.TempPathFactory) -> rag.KnowledgeBase:
    """The seeds indexed with the deterministic hash embedder (fast)."""
    directory = tmp_path_factory.mktemp("hash-index")
    return rag.build(SEEDS, directory, embedder="hash:256", progress=False)


@pytest.fixture(scope="session")
def minilm_kb(tmp_path_factory: pytest.TempPathFactory) -> rag.KnowledgeBase:
    """The seeds indexed with the real bundled all-MiniLM-L6-v2, once per session."""
    directory = tmp_path_factory.mktemp("minilm-index")
    return rag.build(SEEDS, directory, embedder="minilm", progress=False)
