"""Which chunk each sentence-window vector belongs to, for the FAISS store's window ranking.

The pairs are read once from the SQLite rows (``ChunkRows.window_pairs``) and kept as
two NumPy arrays sorted by window id, looked up by binary search.

>>> owners = WindowOwners.of(np.array([[1, 10], [2, 10], [3, 11]]))
>>> owners.owner_of(np.array([3, 1, 9])).tolist()
[11, 10, -1]
>>> owners.windows_of(np.array([10])).tolist()
[1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.index.rows import ChunkRows


@dataclass(frozen=True)
class WindowOwners:
    """Window id -> the key of its chunk, as NumPy arrays sorted by window id (a dict of
    four million windows costs half a gigabyte and seconds to load)."""

    window_ids: np.ndarray
    owners: np.ndarray

    @classmethod
    def read(cls, rows: ChunkRows) -> WindowOwners:
        return cls.of(rows.window_pairs())

    @classmethod
    def of(cls, pairs: np.ndarray) -> WindowOwners:
        """From (window id, chunk key) rows sorted by window id."""
        return cls(pairs[:, 0].copy(), pairs[:, 1].copy())

    def __len__(self) -> int:
        return len(self.window_ids)

    def owner_of(self, window_ids: np.ndarray) -> np.ndarray:
        """The chunk key of each window id, -1 for an id not held."""
        if not len(self.window_ids):
            return np.full(len(window_ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.window_ids, window_ids), len(self.window_ids) - 1)
        return np.where(self.window_ids[at] == window_ids, self.owners[at], -1)

    def windows_of(self, keys: np.ndarray) -> np.ndarray:
        """The window ids of the chunks ``keys``."""
        return self.window_ids[np.isin(self.owners, keys)]
