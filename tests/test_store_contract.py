"""Every store kind runs the same contract suite (tests/contracts/store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from contracts.store import Place, StoreContract, write

from rag.index.manifest import Manifest
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


class TestFaissStoreApproximate(StoreContract):
    """The same store with every vector file an IVF index (``RAG_EXACT_BELOW=1``)."""

    vector_tolerance = 0.01  # IVF keeps vectors as 8-bit codes

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
        monkeypatch.setenv("RAG_EXACT_BELOW", "1")
        return Place(STORES["faiss"], str(tmp_path / "index"))

    def test_its_vector_files_are_ivf(self, store: Place, tmp_path: Path) -> None:
        write(store, tmp_path)
        layouts = Manifest.read(Path(store.location)).layouts
        assert {role: layout["kind"] for role, layout in layouts.items()} == {
            "vectors": "ivf",
            "windows": "ivf",
        }
