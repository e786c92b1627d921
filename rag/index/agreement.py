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
from rag.index.vectors import ids_of
from rag.index.window_owners import WindowOwners

T = TypeVar("T")
Keys = Sequence[int] | np.ndarray

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


def disagreement(name: str, keys: Keys, other: str, other_keys: Keys) -> str:
    """How two parts keyed alike differ, or "" when they hold the same keys once each
    (sorted NumPy arrays: a million keys are checked in milliseconds on load)."""
    mine, theirs = np.sort(np.asarray(keys, np.int64)), np.sort(np.asarray(other_keys, np.int64))
    repeats = bool(len(mine)) and bool(np.any(mine[1:] == mine[:-1]))
    if len(mine) == len(theirs) and np.array_equal(mine, theirs) and not repeats:
        return ""
    said = f"{len(mine)} {name} but {len(theirs)} {other}"
    if len(only := np.setdiff1d(mine, theirs)):
        return f"{said} (key {only[0]} has none)"
    if len(only := np.setdiff1d(theirs, mine)):
        return f"{said} (key {only[0]} is not among the {name})"
    return f"{said} (a key is held twice)"


def parts_problem(
    rows: ChunkRows,
    vectors: faiss.Index,
    windows: faiss.Index,
    bm25_ids: np.ndarray | None,
    owners: WindowOwners | None = None,
) -> str:
    """The first way the parts of a generation disagree, or "" (BM25 unchecked if ``None``;
    ``owners`` read from ``rows`` unless given)."""
    keys = rows.keys()
    owners = owners if owners is not None else WindowOwners.read(rows)
    orphans = np.setdiff1d(owners.owners, keys)
    checks = (
        disagreement("chunks", keys, "chunk vectors", ids_of(vectors)),
        "" if bm25_ids is None else disagreement("chunks", keys, "BM25 documents", bm25_ids),
        disagreement("windows", owners.window_ids, "window vectors", ids_of(windows)),
        f"window rows point at chunk {orphans[0]}, which is not held" if len(orphans) else "",
    )
    return next((problem for problem in checks if problem), "")


def check_parts(
    location: str,
    rows: ChunkRows,
    vectors: faiss.Index,
    windows: faiss.Index,
    bm25_ids: np.ndarray | None,
    counts: dict[str, int] | None = None,
    owners: WindowOwners | None = None,
) -> None:
    """Raise :class:`IndexCorrupt` unless the parts agree (and match ``counts`` if given)."""
    problem = parts_problem(rows, vectors, windows, bm25_ids, owners)
    held = rows.counts()
    if not problem and counts is not None and counts != held:
        problem = f"the manifest counts {counts} but the files hold {held}"
    if problem:
        raise IndexCorrupt(
            f"the index at {location} is inconsistent: {problem}; {rebuild_hint(location)}"
        )
