"""The FAISS store's vector indexes: exact below a size, IVF above it, chosen at each commit.

Below ``RAG_EXACT_BELOW`` vectors (default 50,000) an index is exact: every vector
scored (``IndexIDMap2(IndexFlatIP)``, full float32). At or above it, scoring every
vector costs more than a search should (a million 384-d vectors is 1.5 GB read per
query), so the writer trains an inverted file: ``nlist`` k-means cells of 8-bit
scalar-quantised vectors (``IVF{nlist},SQ8``, a quarter of the memory), of which a query
scans the ``nprobe`` nearest. ``nprobe`` is tuned when the cells are trained, on stored
vectors used as queries against exact search, to the smallest that finds
``RECALL_TARGET`` of the exact top 10. The kind, ``nlist`` and ``nprobe`` are recorded in
the manifest (:class:`Layout`), so a reader opens what was written and searches it as
tuned. An IVF index keeps its cells while the number of vectors stays within a factor of
two of what they were trained for; outside that it is trained again (an IVF index
converted back to exact, or retrained, starts from its quantised vectors).

>>> Layout.from_dict({"kind": "ivf", "nlist": 64, "nprobe": 8})
Layout(kind='ivf', nlist=64, nprobe=8)
>>> nlist_for(1_000_000)
2000
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.errors import ConfigError

KINDS = ("exact", "ivf")
EXACT_BELOW = 50_000
RECALL_TARGET = 0.97  # tuned with a margin over the 0.95 promised (bench/search.py checks)
TUNING_QUERIES = 200
TRAIN_PER_CELL = 64  # k-means sample: faiss warns below 39 points a cell


@dataclass(frozen=True)
class Layout:
    """How one vector file is organised: ``exact``, or ``ivf`` with its cells and probes."""

    kind: str = "exact"
    nlist: int = 0
    nprobe: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        return cls(data["kind"], data.get("nlist", 0), data.get("nprobe", 0))


def layout_problem(data: Any) -> str:
    """What is wrong with a manifest's layout entry, or "".

    >>> layout_problem({"kind": "hnsw"})
    "kind must be one of ('exact', 'ivf'), not 'hnsw'"
    """
    if not isinstance(data, dict) or set(data) - {"kind", "nlist", "nprobe"}:
        return "it must be an object of kind, nlist and nprobe"
    if data.get("kind") not in KINDS:
        return f"kind must be one of {KINDS}, not {data.get('kind')!r}"
    if data["kind"] == "ivf" and not all(
        type(data.get(k)) is int and data[k] > 0 for k in ("nlist", "nprobe")
    ):
        return "an ivf layout needs positive integers nlist and nprobe"
    return ""


def exact_below() -> int:
    """The vector count from which an index is approximate (``RAG_EXACT_BELOW``)."""
    raw = os.environ.get("RAG_EXACT_BELOW", "")
    if not raw:
        return EXACT_BELOW
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise ConfigError(
            f"RAG_EXACT_BELOW must be a positive whole number of vectors, got {raw!r}"
        )
    return value


def nlist_for(n: int) -> int:
    """Cells for ``n`` vectors: about 2 sqrt(n), with at least 39 training points each."""
    return max(1, min(int(2 * math.sqrt(n)), n // 39))


def new_exact(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def layout_of(index: faiss.Index) -> Layout:
    if isinstance(index, faiss.IndexIVF):
        return Layout("ivf", int(index.nlist), int(index.nprobe))
    return Layout()


def read_index(path: Path, dim: int, layout: Layout) -> faiss.Index:
    """The index at ``path``; ValueError unless it is what ``layout`` says."""
    index = faiss.read_index(str(path))
    if index.d != dim:
        raise ValueError(f"it holds {index.d}-dimensional vectors, not {dim}")
    if layout.kind == "exact" and not isinstance(index, faiss.IndexIDMap2):
        raise ValueError("not an IndexIDMap2, as an exact layout needs")
    if layout.kind == "ivf":
        if not isinstance(index, faiss.IndexIVFScalarQuantizer) or index.nlist != layout.nlist:
            raise ValueError(f"not an IVF index of {layout.nlist} cells, as its layout says")
        index.nprobe = layout.nprobe
    return index


def ids_of(index: faiss.Index) -> np.ndarray:
    """The ids of the vectors an index holds (insertion order for exact, by cell for IVF)."""
    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    assert isinstance(index, faiss.IndexIVF), "this module makes only these two kinds"
    lists: Any = index.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
        for cell in range(index.nlist)
        if lists.list_size(cell)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def search(
    index: faiss.Index, query: np.ndarray, k: int, nprobe: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ids of the ``k`` best rows for each query row (ids -1 past the end)."""
    params = None
    if isinstance(index, faiss.IndexIVF):
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe or int(index.nprobe)
    queries = np.ascontiguousarray(query.reshape(-1, index.d), dtype=np.float32)
    scores, ids = index.search(queries, k, params=params)
    return scores, ids


def arrange(index: faiss.Index, dim: int, threshold: int) -> faiss.Index:
    """``index`` as its size wants it: unchanged if it already is, else rebuilt (in memory:
    the caller writes it atomically, so a crash here leaves the live files as they were)."""
    n, current = int(index.ntotal), layout_of(index)
    if n < threshold:
        if current.kind == "exact":
            return index
        ids = ids_of(index)
        exact = new_exact(dim)
        exact.add_with_ids(index.reconstruct_batch(ids), ids)
        return exact
    if current.kind == "ivf" and current.nlist / 2 <= nlist_for(n) <= current.nlist * 2:
        return index
    ids = ids_of(index)
    vectors = index.reconstruct_batch(ids)
    return build_ivf(dim, nlist_for(n), _sample(ids, vectors), [(ids, vectors)])


def _sample(ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.random.default_rng(0).permutation(len(ids))
    return ids[rows], vectors[rows]


def build_ivf(
    dim: int,
    nlist: int,
    sample: tuple[np.ndarray, np.ndarray],
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
) -> faiss.Index:
    """An IVF index trained on ``sample`` (ids, vectors: random rows of the data, at least
    ``nlist``), holding every block of (ids, vectors), its ``nprobe`` tuned."""
    sample_ids, sample_vectors = sample
    index: Any = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample_vectors[: nlist * TRAIN_PER_CELL], dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # reconstruct and remove by id
    truth = _TopK(sample_vectors[:TUNING_QUERIES], k=11)
    for ids, vectors in blocks:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        truth.update(np.asarray(ids, dtype=np.int64), vectors)
    index.nprobe = tune_nprobe(index, truth.queries, sample_ids[:TUNING_QUERIES], truth.best())
    return index


class _TopK:
    """The exact ``k`` best ids for a few queries, kept while the data streams past."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.ids = np.zeros((len(queries), 0), dtype=np.int64)

    def update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        scores = np.concatenate([self.scores, self.queries @ vectors.T], axis=1)
        both = np.concatenate([self.ids, np.broadcast_to(ids, (len(self.queries), len(ids)))], 1)
        keep = min(self.k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        self.scores = np.take_along_axis(scores, top, 1)
        self.ids = np.take_along_axis(both, top, 1)

    def best(self) -> np.ndarray:
        """The ids found, best first in each row."""
        order = np.argsort(-self.scores, axis=1, kind="stable")
        return np.take_along_axis(self.ids, order, 1)


def recall_at_10(found: np.ndarray, truth: np.ndarray, own: np.ndarray | None = None) -> float:
    """Mean share of each query's exact top 10 (rows of ``truth``, best first) that
    ``found`` holds in its top 10; a query's ``own`` id (itself, when a stored vector is the
    query) is left out of both."""
    shares = []
    for row, (got, want) in enumerate(zip(found, truth, strict=True)):
        skip = {-1} if own is None else {-1, int(own[row])}
        want_set = [i for i in want.tolist() if i not in skip][:10]
        got_set = {i for i in got.tolist() if i not in skip}
        if want_set:
            shares.append(len(got_set.intersection(want_set)) / len(want_set))
    return float(np.mean(shares)) if shares else 1.0


def tune_nprobe(index: Any, queries: np.ndarray, own: np.ndarray, truth: np.ndarray) -> int:
    """The smallest power-of-two ``nprobe`` (or ``nlist``) reaching ``RECALL_TARGET``."""
    nprobe = 1
    while nprobe < index.nlist:
        _, found = search(index, queries, 11, nprobe)
        if recall_at_10(found, truth, own) >= RECALL_TARGET:
            return nprobe
        nprobe *= 2
    return int(index.nlist)
