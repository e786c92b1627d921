"""Exact or IVF vector files chosen by size (rag/index/vectors.py), through the real writer.

The threshold is lowered with ``RAG_EXACT_BELOW`` so the seeds (70 chunks, 264 windows)
cross it; recall is measured on a synthetic clustered set against exact search.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

import rag
from rag.errors import ConfigError, IndexCorrupt
from rag.index.bm25 import BM25
from rag.index.embedders import Embedder, HashEmbedder
from rag.index.indexer import _embedded, index_corpus
from rag.index.manifest import Manifest
from rag.index.vectors import (
    arrange,
    exact_below,
    ids_of,
    layout_of,
    new_exact,
    nlist_for,
    recall_at_10,
    search,
)

EMBEDDER = HashEmbedder(64)
QUESTIONS = ("drone strikes on refineries", "coalition of the willing", "peace talks envoy")


def kinds(index: Path) -> dict[str, str]:
    return {role: layout["kind"] for role, layout in Manifest.read(index).layouts.items()}


def found(index: Path) -> list[list[str]]:
    kb = rag.load(index)
    try:
        return [[h.chunk_id for h in kb.search(q, k=5)] for q in QUESTIONS]
    finally:
        kb.store.close()


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around 50 centres, as embeddings of texts on a few topics are."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_an_index_is_exact_below_the_threshold_and_ivf_above(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "ix"
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)
    assert kinds(index) == {"vectors": "exact", "windows": "exact"}
    exact = found(index)
    monkeypatch.setenv("RAG_EXACT_BELOW", "100")  # 70 chunks stay exact, 264 windows do not
    index_corpus([seeds_copy], index, EMBEDDER, rebuild=True, progress=False)
    assert kinds(index) == {"vectors": "exact", "windows": "ivf"}
    layout = Manifest.read(index).layout("windows")
    assert layout.nlist == nlist_for(264) and 1 <= layout.nprobe <= layout.nlist
    assert found(index) == exact  # a few cells, probed enough: the same answers
    monkeypatch.setenv("RAG_EXACT_BELOW", "10")
    index_corpus([seeds_copy], index, EMBEDDER, rebuild=True, progress=False)
    assert kinds(index) == {"vectors": "ivf", "windows": "ivf"}
    monkeypatch.delenv("RAG_EXACT_BELOW")
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)  # nothing new: back to exact
    assert kinds(index) == {"vectors": "exact", "windows": "exact"}


def test_an_ivf_index_reopens_and_grows_without_retraining_within_twice_its_size(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EXACT_BELOW", "10")
    some = tmp_path / "some"
    some.mkdir()
    for name in sorted(p.name for p in seeds_copy.iterdir())[:3]:
        shutil.copy(seeds_copy / name, some / name)
    index = tmp_path / "ix"
    index_corpus([some], index, EMBEDDER, progress=False)
    before = Manifest.read(index).layout("windows")
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)  # the rest added
    after = Manifest.read(index)
    grew = after.counts["chunks"]
    store = rag.load(index).store
    windows = int(store.windows.ntotal)
    if before.nlist / 2 <= nlist_for(windows) <= before.nlist * 2:
        assert after.layout("windows") == before  # the same cells, nprobe as tuned
    else:
        assert after.layout("windows").nlist == nlist_for(windows)
    assert len(store) == grew and sorted(ids_of(store.vectors)) == sorted(store.table.keys())


def test_ivf_recall_at_10_against_exact_on_clustered_vectors() -> None:
    data, queries = clustered(20_000, 48, seed=1), clustered(200, 48, seed=2)
    exact = new_exact(48)
    exact.add_with_ids(data, np.arange(20_000, dtype=np.int64))
    ivf = arrange(exact, 48, threshold=10_000)
    assert layout_of(ivf).kind == "ivf" and layout_of(ivf).nlist == nlist_for(20_000)
    _, truth = search(exact, queries, 10)
    _, got = search(ivf, queries, 10)
    assert recall_at_10(got, truth) >= 0.95
    _, one_cell = search(ivf, queries, 10, nprobe=1)
    assert recall_at_10(one_cell, truth) < 0.95  # the tuning had something to do


def test_a_crash_while_training_leaves_the_previous_generation(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "ix"
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)
    before, files = found(index), sorted(p.name for p in index.iterdir())
    monkeypatch.setenv("RAG_EXACT_BELOW", "10")

    def killed(*args: object) -> int:
        raise KeyboardInterrupt  # what a Ctrl-C during k-means would raise

    monkeypatch.setattr("rag.index.vectors.tune_nprobe", killed)
    with pytest.raises(KeyboardInterrupt):
        index_corpus([seeds_copy], index, EMBEDDER, rebuild=True, progress=False)
    assert sorted(p.name for p in index.iterdir()) == files  # not a file written
    assert found(index) == before and kinds(index)["vectors"] == "exact"
    monkeypatch.undo()
    monkeypatch.setenv("RAG_EXACT_BELOW", "10")
    index_corpus([seeds_copy], index, EMBEDDER, rebuild=True, progress=False)  # the rerun
    assert kinds(index) == {"vectors": "ivf", "windows": "ivf"}


def test_a_bad_threshold_is_one_line_naming_the_variable(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "ix"
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)
    before = (index / "manifest.json").read_text()
    for bad in ("fifty", "0", "-3"):
        monkeypatch.setenv("RAG_EXACT_BELOW", bad)
        with pytest.raises(ConfigError, match=f"RAG_EXACT_BELOW must be .* got '{bad}'"):
            exact_below()
        with pytest.raises(ConfigError):
            index_corpus([seeds_copy], index, EMBEDDER, rebuild=True, progress=False)
    assert (index / "manifest.json").read_text() == before


def test_a_manifest_whose_layout_lies_is_refused(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "ix"
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)
    data = json.loads((index / "manifest.json").read_text())
    lying = {
        **data,
        "layouts": {**data["layouts"], "vectors": {"kind": "ivf", "nlist": 4, "nprobe": 2}},
    }
    (index / "manifest.json").write_text(json.dumps(lying))
    with pytest.raises(IndexCorrupt, match=r"vectors-000001\.faiss cannot be read .*IVF index"):
        rag.load(index)
    unknown = {**data, "layouts": {**data["layouts"], "windows": {"kind": "hnsw"}}}
    (index / "manifest.json").write_text(json.dumps(unknown))
    with pytest.raises(IndexCorrupt, match="field 'layouts' must be"):
        rag.load(index)


def test_a_format_3_index_reads_as_exact(seeds_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "ix"
    index_corpus([seeds_copy], index, EMBEDDER, progress=False)
    data = json.loads((index / "manifest.json").read_text())
    del data["layouts"]
    (index / "manifest.json").write_text(json.dumps({**data, "format": 3}))
    assert found(index) and kinds(index) == {"vectors": "exact", "windows": "exact"}


def test_bm25_top_matches_a_full_sort_with_and_without_a_filter() -> None:
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]
    docs = [(k * 3 + 1, " ".join(rng.choice(words, 12))) for k in range(500)]
    bm = BM25.build(docs)
    allowed = {k for k, _ in docs[::7]}
    for query in ("w1 w2 w3", "w5", "w7 w7 w39", "nothing"):
        scores = bm.scores(query)
        for n, keep in ((10, None), (3, allowed), (1000, None)):
            rows = [r for r in np.argsort(-scores, kind="stable") if scores[r] > 0]
            rows = [r for r in rows if keep is None or int(bm.ids[r]) in keep][:n]
            expected = [(int(bm.ids[r]), float(scores[r])) for r in rows]
            assert bm.top(query, n, keep) == expected


def test_ids_of_an_ivf_index_are_its_ids_after_removals() -> None:
    data = clustered(2_000, 16, seed=3)
    exact = new_exact(16)
    exact.add_with_ids(data, np.arange(10, 2_010, dtype=np.int64))
    ivf = arrange(exact, 16, threshold=1)
    ivf.remove_ids(np.arange(10, 20, dtype=np.int64))
    assert sorted(ids_of(ivf).tolist()) == list(range(20, 2_010))
    assert isinstance(ivf, faiss.IndexIVF)
    np.testing.assert_allclose(ivf.reconstruct(500), data[490], atol=0.01)


def test_texts_sorted_by_length_come_back_in_order(seeds_copy: Path, tmp_path: Path) -> None:
    """Sorting within groups changes no chunk and no vector: small batches and groups
    (many of each) against one batch of everything."""
    texts = [("word " * (i * 37 % 50 + 1)).strip() for i in range(200)]
    alone = EMBEDDER.embed(texts)
    got = np.stack(list(_embedded(texts, EMBEDDER, progress=False, batch_size=3)))
    np.testing.assert_array_equal(got, alone)
    small, big = tmp_path / "small", tmp_path / "big"
    index_corpus([seeds_copy], small, EMBEDDER, progress=False, batch_size=3)
    index_corpus([seeds_copy], big, EMBEDDER, progress=False, batch_size=100_000)
    a, b = rag.load(small).store, rag.load(big).store
    keys = sorted(a.table.keys())
    assert keys == sorted(b.table.keys()) and a.chunks(keys) == b.chunks(keys)
    np.testing.assert_array_equal(
        a.vectors.reconstruct_batch(keys), b.vectors.reconstruct_batch(keys)
    )
    windows = a.owners.window_ids
    np.testing.assert_array_equal(
        a.windows.reconstruct_batch(windows), b.windows.reconstruct_batch(windows)
    )


@pytest.mark.slow
def test_minilm_vectors_do_not_depend_on_their_batch_mates(minilm_embedder: Embedder) -> None:
    texts = ["A short one.", "A much longer passage about drones " * 12, "Mid length text here."]
    alone = np.concatenate([minilm_embedder.embed([t]) for t in texts])
    got = np.stack(list(_embedded(texts * 3, minilm_embedder, progress=False, batch_size=2)))
    np.testing.assert_allclose(got, np.concatenate([alone] * 3), atol=1e-5)
