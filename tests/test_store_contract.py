"""Every store kind runs the same contract suite (tests/contracts/store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contracts.store import Place, StoreContract

from rag.index.store import STORES


class TestFaissStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Place:
        return Place(STORES["faiss"], str(tmp_path / "index"))


@pytest.mark.postgres
class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Place:
        return Place(STORES["postgresql"], pg_url)
