"""An index whose files pass their checksums but do not belong together, or whose manifest
was edited by hand, is refused with a message naming the problem and the real --index."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag
from rag.errors import IndexCorrupt
from rag.index.atomic import sha256_file
from rag.index.base import IndexSettings
from rag.index.bm25 import BM25
from rag.index.embedders import HashEmbedder
from rag.index.faiss_writer import FaissWriter
from rag.index.indexer import index_corpus
from rag.index.manifest import MANIFEST, Manifest
from rag.index.rows import ChunkRows

NOTE = "Budget news\n\nThe council approved a new budget for parks and libraries in the town.\n"


def build(paths: list[Path], index: Path) -> Manifest:
    index_corpus(paths, index, HashEmbedder(256), progress=False)
    return Manifest.read(index)


def edit_manifest(index: Path, edit: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads((index / MANIFEST).read_text())
    edit(data)
    (index / MANIFEST).write_text(json.dumps(data))


def swap_in(index: Path, role: str, source: Path) -> None:
    """Put ``source`` in place of a role's file, its checksum made to match."""
    name = Manifest.read(index).files[role]
    shutil.copyfile(source, index / name)
    edit_manifest(index, lambda data: data["checksums"].update({name: sha256_file(index / name)}))


def hint(index: Path) -> str:
    return re.escape(f"rag index PATH --index {index} --rebuild")


@pytest.fixture
def two(seeds_copy: Path, tmp_path: Path) -> tuple[Path, Manifest, Path, Manifest]:
    """The seeds (70 chunks) and the seeds with one more article, indexed apart."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text(NOTE)
    small, big = tmp_path / "small", tmp_path / "big"
    return small, build([seeds_copy], small), big, build([seeds_copy, extra], big)


def test_sqlite_rows_without_vectors_are_refused_on_load_and_by_the_writer(
    two: tuple[Path, Manifest, Path, Manifest], seeds_copy: Path
) -> None:
    """Issue 14: 370 chunk rows beside 70 vectors, checksums passing; bm25 and -k 20 crashed."""
    small, _, big, bigger = two
    swap_in(small, "chunks", big / bigger.files["chunks"])
    edit_manifest(small, lambda data: data.update(counts=bigger.counts))  # a writer's counts
    problem = r"inconsistent: 71 chunks but 70 chunk vectors \(key 71 has none\)"
    with pytest.raises(IndexCorrupt, match=problem + ".*" + hint(small)):
        rag.load(small)
    before = sorted(p.name for p in small.iterdir())
    with pytest.raises(IndexCorrupt, match=problem):
        index_corpus([seeds_copy], small, HashEmbedder(256), progress=False)
    assert sorted(p.name for p in small.iterdir()) == before  # nothing committed
    index_corpus([seeds_copy], small, HashEmbedder(256), rebuild=True, progress=False)
    assert len(rag.load(small).store) == 70


def test_bm25_and_window_vectors_that_disagree_are_refused(
    two: tuple[Path, Manifest, Path, Manifest],
) -> None:
    small, made, big, bigger = two
    swap_in(small, "bm25", big / bigger.files["bm25"])
    with pytest.raises(IndexCorrupt, match="70 chunks but 71 BM25 documents"):
        rag.load(small)
    swap_in(small, "bm25", _bm25_of(small))  # put right again: loads
    rag.load(small).store.close()
    swap_in(small, "windows", small / made.files["vectors"])  # a FAISS file, the wrong one
    with pytest.raises(IndexCorrupt, match="windows but 70 window vectors"):
        rag.load(small)


def _bm25_of(index: Path) -> Path:
    """A BM25 file built from the index's own rows (what the writer would write)."""
    rows = ChunkRows(sqlite3.connect(index / Manifest.read(index).files["chunks"]))
    path = index.with_name("rebuilt.npz")
    BM25.build(rows.texts()).save(path)
    rows.db.close()
    return path


def test_the_writer_never_commits_parts_that_disagree(seeds_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "ix"
    made = build([seeds_copy], index)
    before = sorted(p.name for p in index.iterdir())
    settings = IndexSettings("hash:256", 256, made.chunker)
    with FaissWriter.open(index, settings) as writer:
        writer.chunk_index.remove_ids(np.asarray([1], dtype=np.int64))  # a bug's doing
        with pytest.raises(IndexCorrupt, match=r"not committing .*70 chunks but 69 chunk vectors"):
            writer.commit()
    assert sorted(p.name for p in index.iterdir()) == before
    assert len(rag.load(index).store) == 70


def _files_list(data: dict[str, Any]) -> None:
    data["files"] = list(data["files"].values())


def _vectors_is_sqlite(data: dict[str, Any]) -> None:
    data["files"]["vectors"] = data["files"]["chunks"]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (_files_list, r"field 'files' must be an object naming a file per role, not \["),
        (lambda d: d.update(files=None), "field 'files' must be an object .*, not None"),
        (lambda d: d.update(checksums=None), "field 'checksums' must be an object of sha256"),
        (lambda d: d["files"].pop("bm25"), "field 'files' must give 'bm25' as 'bm25-000001.npz'"),
        (lambda d: d["files"].update(extra="x"), "field 'files' has an unknown role 'extra'"),
        (lambda d: d["checksums"].clear(), "field 'checksums' has no sha256 for"),
        (_vectors_is_sqlite, "field 'files' must give 'vectors' as 'vectors-000001.faiss'"),
        (lambda d: d.update(dim="256"), "field 'dim' must be a positive integer, not '256'"),
        (lambda d: d.update(generation="1"), "field 'generation' must be a positive integer"),
        (lambda d: d.update(chunker=[200]), "field 'chunker' must be an object of integers"),
        (lambda d: d.pop("embedder"), "field 'embedder' is missing"),
        (lambda d: d.update(colour="red"), "unknown field 'colour'"),
    ],
)
def test_a_hand_edited_manifest_names_the_bad_field(
    seeds_copy: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    index = tmp_path / "ix"
    build([seeds_copy], index)
    edit_manifest(index, edit)
    with pytest.raises(IndexCorrupt, match=f"not a valid manifest: {problem}.*{hint(index)}"):
        rag.load(index)
    with pytest.raises(IndexCorrupt, match="not a valid manifest"):
        index_corpus([seeds_copy], index, HashEmbedder(256), progress=False)
    # --rebuild needs no manifest and writes beside the old files
    index_corpus([seeds_copy], index, HashEmbedder(256), rebuild=True, progress=False)
    assert Manifest.read(index).generation == 2 and len(rag.load(index).store) == 70


@pytest.mark.parametrize("manifest", ["[1, 2]", "{not json", '"manifest"'])
def test_a_manifest_that_is_no_object_is_corrupt(
    seeds_copy: Path, tmp_path: Path, manifest: str
) -> None:
    build([seeds_copy], tmp_path / "ix")
    (tmp_path / "ix" / MANIFEST).write_text(manifest)
    with pytest.raises(IndexCorrupt, match="not a valid manifest"):
        rag.load(tmp_path / "ix")


@pytest.mark.parametrize(
    ("role", "other"),
    [("vectors", "chunks"), ("chunks", "vectors"), ("bm25", "windows"), ("windows", "bm25")],
)
def test_a_file_of_the_wrong_kind_with_a_matching_checksum(
    seeds_copy: Path, tmp_path: Path, role: str, other: str
) -> None:
    index = tmp_path / "ix"
    made = build([seeds_copy], index)
    shutil.copyfile(index / made.files[other], tmp_path / "other")
    swap_in(index, role, tmp_path / "other")
    name = re.escape(str(index / made.files[role]))
    with pytest.raises(IndexCorrupt, match=f"{name} cannot be read .*{hint(index)}"):
        rag.load(index)
