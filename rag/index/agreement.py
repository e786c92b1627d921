"""Do the parts of a FAISS store generation agree? Checked on load and before a commit.

The checksums prove each file is the one the manifest named, not that the files
belong together: a writer once built on a half-replaced generation and committed
SQLite rows for 370 chunks beside 70 vectors, checksums and all. So every chunk key
must have exactly one vector and one BM25 document, every window row one vector and
an existing chunk, and the manifest's counts must be what the files hold.

>>> disagreement("chunks", [1, 2, 3], "chunk vectors", [1, 2])
'3 chunks but 2 chunk vectors (key 3 has none)'
>>> disagreement("chunks", [1, 2], "BM25 documents", [1, 2])
''
"""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import faiss
import numpy as np

from rag.errors import IndexCorrupt
from rag.index.base import rebuild_hint
from rag.index.rows import ChunkRows

T = TypeVar("T")

# What reading a file of the wrong kind raises (faiss raises RuntimeError).
_UNREADABLE = (
    RuntimeError,
    ValueError,
    KeyError,
    OSError,
    sqlite3.DatabaseError,
    zipfile.BadZipFile,
)


def read_part(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)``, or :class:`IndexCorrupt` naming a file that is not what its role needs
    (a hand-edited manifest can give any file a matching checksum)."""
    try:
        return read(path)
    except _UNREADABLE as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexCorrupt(
            f"{path} cannot be read ({reason}): {rebuild_hint(path.parent)}"
        ) from exc


def read_vectors(path: Path, dim: int) -> faiss.Index:
    index = faiss.read_index(str(path))
    if not isinstance(index, faiss.IndexIDMap2) or index.d != dim:
        raise ValueError(f"not an IndexIDMap2 of {dim}-dimensional vectors")
    return index


def faiss_ids(index: faiss.Index) -> list[int]:
    """The ids of the vectors an ``IndexIDMap2`` holds, in insertion order."""
    assert isinstance(index, faiss.IndexIDMap2), "read_vectors and the writer make only these"
    return [int(i) for i in faiss.vector_to_array(index.id_map)]


def disagreement(name: str, keys: Sequence[int], other: str, other_keys: Sequence[int]) -> str:
    """How two parts keyed alike differ, or "" when they hold the same keys once each."""
    mine, theirs = set(keys), set(other_keys)
    if mine == theirs and len(mine) == len(keys) and len(theirs) == len(other_keys):
        return ""
    said = f"{len(keys)} {name} but {len(other_keys)} {other}"
    if mine - theirs:
        return f"{said} (key {min(mine - theirs)} has none)"
    if theirs - mine:
        return f"{said} (key {min(theirs - mine)} is not among the {name})"
    return f"{said} (a key is held twice)"


def parts_problem(
    rows: ChunkRows, vectors: faiss.Index, windows: faiss.Index, bm25_ids: np.ndarray | None
) -> str:
    """The first way the parts of a generation disagree, or "" (BM25 unchecked if ``None``)."""
    keys = rows.keys()
    owners = rows.window_owners()
    orphans = sorted(set(owners.values()) - set(keys))
    checks = (
        disagreement("chunks", keys, "chunk vectors", faiss_ids(vectors)),
        ""
        if bm25_ids is None
        else disagreement("chunks", keys, "BM25 documents", [int(i) for i in bm25_ids]),
        disagreement("windows", list(owners), "window vectors", faiss_ids(windows)),
        f"window rows point at chunk {orphans[0]}, which is not held" if orphans else "",
    )
    return next((problem for problem in checks if problem), "")


def check_parts(
    location: str,
    rows: ChunkRows,
    vectors: faiss.Index,
    windows: faiss.Index,
    bm25_ids: np.ndarray | None,
    counts: dict[str, int] | None = None,
) -> None:
    """Raise :class:`IndexCorrupt` unless the parts agree (and match ``counts`` if given)."""
    problem = parts_problem(rows, vectors, windows, bm25_ids)
    held = rows.counts()
    if not problem and counts is not None and counts != held:
        problem = f"the manifest counts {counts} but the files hold {held}"
    if problem:
        raise IndexCorrupt(
            f"the index at {location} is inconsistent: {problem}; {rebuild_hint(location)}"
        )
