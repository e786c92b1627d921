"""The FAISS store's files on disk and the manifest that names the live ones.

Layout of an index directory (one *generation* is live at a time)::

    manifest.json            the commit point: names the live files and their sha256
    vectors-000003.faiss     IndexIDMap2(IndexFlatIP): cosine on normalised vectors
    windows-000003.faiss     the same over sentence windows (rag/index/windows.py)
    chunks-000003.sqlite     articles, chunks (chunks.faiss_id is the FAISS id) and
                             windows (window_id -> the faiss_id of its chunk): rag/index/rows.py
    bm25-000003.npz          the BM25 postings (NumPy arrays, loaded without pickle)

A writer (``rag/index/faiss_writer.py``) builds the next generation beside the live one
and then replaces ``manifest.json`` atomically, so a killed ``rag index`` leaves the old
index loadable.

>>> generation_files(3)["chunks"]
'chunks-000003.sqlite'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.index.base import IndexSettings

FORMAT = 2  # 2: sentence windows
MANIFEST = "manifest.json"
ROLES = ("vectors", "windows", "chunks", "bm25")


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

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings(self.embedder, self.dim, self.chunker)

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
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise IndexCorrupt(
                f"{path} is not a valid manifest ({exc}); rebuild with "
                f"'rag index PATH --index {directory} --rebuild'"
            ) from exc
        if manifest.format != FORMAT:
            raise IndexMismatch(
                f"index format {manifest.format} at {directory}, this version "
                f"reads {FORMAT}: rebuild with 'rag index PATH --rebuild'"
            )
        return manifest


def generation_files(generation: int) -> dict[str, str]:
    return {
        "vectors": f"vectors-{generation:06d}.faiss",
        "windows": f"windows-{generation:06d}.faiss",
        "chunks": f"chunks-{generation:06d}.sqlite",
        "bm25": f"bm25-{generation:06d}.npz",
    }
