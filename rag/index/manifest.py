"""The FAISS store's files on disk and the manifest that names the live ones.

Layout of an index directory (one *generation* is live at a time)::

    manifest.json            the commit point: names the live files and their sha256
    vectors-000003.faiss     cosine on normalised vectors: exact, or IVF at scale, as the
                             manifest's ``layouts`` say (rag/index/vectors.py)
    windows-000003.faiss     the same over sentence windows (rag/index/windows.py)
    chunks-000003.sqlite     articles, chunks (chunks.faiss_id is the FAISS id) and
                             windows (window_id -> the faiss_id of its chunk): rag/index/rows.py
    bm25-000003.npz          the BM25 postings (NumPy arrays, loaded without pickle)

A writer (``rag/index/faiss_writer.py``) builds the next generation beside the live one
and then replaces ``manifest.json`` atomically, so a killed ``rag index`` leaves the old
index loadable. :meth:`Manifest.read` checks the manifest against its schema (a
hand-edited one with a wrong type is an error naming the field) and
:meth:`Manifest.verify` each file against its sha256.

>>> generation_files(3)["chunks"]
'chunks-000003.sqlite'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.index.atomic import sha256_file
from rag.index.base import IndexSettings, rebuild_hint
from rag.index.vectors import Layout, layout_problem

VECTOR_ROLES = ("vectors", "windows")

FORMAT = 4  # 2: sentence windows; 3: article date, author and URL; 4: vector layouts
READS = (3, FORMAT)  # a format-3 index is all exact: it reads as one with exact layouts
MANIFEST = "manifest.json"
ROLES = ("vectors", "windows", "chunks", "bm25")
_GENERATION_FILE = re.compile(r"(?:vectors|windows|chunks|bm25)-(\d{6,})\.(?:faiss|sqlite|npz)")


@dataclass
class Manifest:
    embedder: str
    dim: int
    chunker: dict[str, int]
    generation: int = 0
    files: dict[str, str] = field(default_factory=dict)  # role -> file name
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    counts: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT
    # vector role -> Layout.to_dict(): what kind of FAISS index its file holds
    layouts: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {role: Layout().to_dict() for role in VECTOR_ROLES}
    )

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings(self.embedder, self.dim, self.chunker)

    def layout(self, role: str) -> Layout:
        return Layout.from_dict(self.layouts[role])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise IndexNotFound(
                f"no index at {directory}: run 'rag index PATH --index {directory}'"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: deep nesting
            raise IndexCorrupt(
                f"{path} is not a valid manifest ({exc}); {rebuild_hint(directory)}"
            ) from exc
        made = data.get("format") if isinstance(data, dict) else None
        if type(made) is int and made not in READS:  # before the schema, which may differ
            raise IndexMismatch(
                f"index format {made} at {directory}, this version reads "
                f"{' and '.join(map(str, READS))}: "
                f"{rebuild_hint(directory)}"
            )
        if made == 3 and "layouts" not in data:
            data["layouts"] = Manifest(embedder="", dim=1, chunker={}).layouts
        problem = schema_problem(data)
        if problem:
            raise IndexCorrupt(
                f"{path} is not a valid manifest: {problem}; {rebuild_hint(directory)}"
            )
        return cls(**data)

    def verify(self, directory: Path) -> None:
        """Every file the manifest names is there and matches its sha256."""
        for name in self.files.values():
            path = directory / name
            if not path.is_file():
                raise IndexCorrupt(f"{path} is missing: {rebuild_hint(directory)}")
            if sha256_file(path) != self.checksums[name]:
                raise IndexCorrupt(f"{path} fails its checksum: {rebuild_hint(directory)}")


def generation_files(generation: int) -> dict[str, str]:
    return {
        "vectors": f"vectors-{generation:06d}.faiss",
        "windows": f"windows-{generation:06d}.faiss",
        "chunks": f"chunks-{generation:06d}.sqlite",
        "bm25": f"bm25-{generation:06d}.npz",
    }


def next_generation(directory: Path) -> int:
    """One above every generation with a file in ``directory``, so a writer never
    writes over the live generation's files (nor an unreadable manifest's).

    >>> next_generation(Path("nowhere"))
    1
    """
    names = [p.name for p in directory.iterdir()] if directory.is_dir() else []
    found = [int(m.group(1)) for name in names if (m := _GENERATION_FILE.fullmatch(name))]
    return max(found, default=0) + 1


def _positive(value: Any) -> bool:
    return type(value) is int and value > 0


def _ints(value: Any) -> bool:
    return isinstance(value, dict) and all(type(v) is int for v in value.values())


def _sha256s(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) for v in value.values()
    )


def _layouts_ok(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == set(VECTOR_ROLES)
        and not any(layout_problem(v) for v in value.values())
    )


# field -> (what its value must be, the test)
SCHEMA: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "format": ("an integer", lambda v: type(v) is int),
    "embedder": ("a non-empty string", lambda v: isinstance(v, str) and v != ""),
    "dim": ("a positive integer", _positive),
    "chunker": ("an object of integers", _ints),
    "generation": ("a positive integer", _positive),
    "files": ("an object naming a file per role", lambda v: isinstance(v, dict)),
    "checksums": ("an object of sha256 hex digests", _sha256s),
    "counts": ("an object of integers", _ints),
    "layouts": ("an object giving each vector file's kind", _layouts_ok),
}


def schema_problem(data: Any) -> str:
    """What is wrong with a parsed manifest, naming the field; "" when nothing is.

    >>> schema_problem({"format": 2, "embedder": "hash:384", "dim": "384"})
    "field 'dim' must be a positive integer, not '384'"
    """
    if not isinstance(data, dict):
        return f"it must be a JSON object, not {type(data).__name__}"
    unknown = sorted(set(data) - {f.name for f in fields(Manifest)})
    if unknown:
        return f"unknown field {unknown[0]!r}"
    for name, (what, ok) in SCHEMA.items():
        if name not in data:
            return f"field {name!r} is missing"
        if not ok(data[name]):
            return f"field {name!r} must be {what}, not {data[name]!r}"
    return _files_problem(data["files"], data["checksums"], data["generation"])


def _files_problem(files: dict[str, Any], checksums: dict[str, str], generation: int) -> str:
    expected = generation_files(generation)
    for role, name in expected.items():
        if files.get(role) != name:
            got = files.get(role)
            return f"field 'files' must give {role!r} as {name!r}, not {got!r}"
        if name not in checksums:
            return f"field 'checksums' has no sha256 for {name!r}"
    if set(files) != set(expected):
        return f"field 'files' has an unknown role {sorted(set(files) - set(expected))[0]!r}"
    return ""
