"""Real SIGKILLs at every file replacement of a rebuild and of a chunker change.

``rag index`` runs in a subprocess with ``RAG_KILL_AFTER_REPLACE=N`` (read by
``rag.index.atomic.publish``), which kills it right after its Nth file replacement,
for N = 1, 2, ... until a run finishes. After each kill the index must answer as the
old one did (or, once the manifest is replaced, as the finished run's), and a plain
rerun must leave an index whose parts agree and whose every article can be found.
Issue 14: a killed ``--rebuild`` of a generation-1 index wrote over the live files,
and the rerun committed 370 chunk rows beside 70 vectors.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import rag
from rag.index.atomic import KILL_AFTER_REPLACE
from rag.index.chunking import ChunkSettings
from rag.index.embedders import HashEmbedder
from rag.index.indexer import index_corpus
from rag.index.manifest import MANIFEST, Manifest
from rag.index.vectors import ids_of as faiss_ids

ROOT = Path(__file__).resolve().parent.parent
EMBEDDER = "hash:256"
NOTE = "Budget news\n\nThe council approved a new budget for parks and libraries in the town.\n"
QUESTIONS = (
    "council budget parks",
    "Witkoff posture pose",
    "coalition of the willing",
    "drone strikes on refineries",
)

Answers = dict[tuple[str, str, int], list[str]]


def answers(index: Path) -> Answers:
    """Chunk ids found for each question, hybrid and BM25, k = 3 and 20 (the issue's crashes)."""
    kb = rag.load(index)
    try:
        return {
            (q, mode, k): [h.chunk_id for h in kb.search(q, k=k, mode=mode)]
            for q in QUESTIONS
            for mode in ("hybrid", "bm25")
            for k in (3, 20)
        }
    finally:
        kb.store.close()


def run_index(args: list[str], index: Path, kill_after: int) -> int:
    """``rag index ARGS --index INDEX`` in a subprocess, killed after that replacement."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), KILL_AFTER_REPLACE: str(kill_after)}
    command = [sys.executable, "-m", "rag.cli", "index", *args]
    command += ["--index", str(index), "--embedder", EMBEDDER, "--json"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()
    return done.returncode


def assert_whole(index: Path, tidy: bool = True) -> set[str]:
    """The parts agree, every article can be found and (if ``tidy``) only the live files
    are left; the ids of the articles held."""
    kb = rag.load(index)  # checks the parts itself: checked again here, from the files
    store = kb.store
    try:
        keys = sorted(store.table.keys())
        assert keys == sorted(faiss_ids(store.vectors)) == sorted(int(i) for i in store.bm25.ids)
        assert sorted(store.owners.window_ids) == sorted(faiss_ids(store.windows))
        live = set(Manifest.read(index).files.values()) | {MANIFEST, ".lock"}
        assert not tidy or {p.name for p in index.iterdir()} == live
        for article in kb.articles():
            first = store.lead(article["article_id"], 1)
            assert first, article
            [(nearest, _)] = store.dense(store.vector(first[0]), 1)
            assert store.chunks([nearest])[nearest].chunk.article_id == article["article_id"]
            found = kb.search(article["title"], k=20, mode="bm25")
            assert article["article_id"] in {h.article_id for h in found}
        return {a["article_id"] for a in kb.articles()}
    finally:
        store.close()


@pytest.fixture
def base(seeds_copy: Path, tmp_path: Path) -> Path:
    """A generation-1 index of the seeds and one more folder (6 articles)."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text(NOTE, encoding="utf-8")
    index_corpus([seeds_copy, extra], tmp_path / "base", HashEmbedder(256), progress=False)
    assert Manifest.read(tmp_path / "base").generation == 1
    return tmp_path / "base"


def kill_at_every_replacement(
    base: Path, args: list[str], rerun: Callable[[Path], object]
) -> tuple[Answers, Answers, list[str]]:
    """Kill ``rag index ARGS`` after each replacement in turn, on a copy of ``base``;
    check and rerun each. The old answers, the finished run's, and what each kill left."""
    old = answers(base)
    finished = base.with_name("finished")
    shutil.copytree(base, finished)
    assert run_index(args, finished, 0) == 0
    new = answers(finished)
    assert new != old
    left = []
    for n in range(1, 20):
        index = base.with_name(f"killed-{n}")
        shutil.copytree(base, index)
        if run_index(args, index, n) == 0:
            break
        committed = (index / MANIFEST).read_bytes() != (base / MANIFEST).read_bytes()
        left.append("new" if committed else "old")
        after_kill = answers(index)
        assert after_kill == (new if committed else old), f"killed after replacement {n}"
        articles = assert_whole(index, tidy=False)  # a killed writer leaves its files
        rerun(index)
        assert assert_whole(index) >= articles
        assert answers(index) in (old, new)
    return old, new, left


def test_a_rebuild_killed_at_each_replacement(base: Path, seeds_copy: Path) -> None:
    def rerun(index: Path) -> None:  # the natural recovery: plain `rag index`
        before = answers(index)
        index_corpus([seeds_copy], index, HashEmbedder(256), progress=False)
        assert answers(index) == before

    _, _, left = kill_at_every_replacement(base, [str(seeds_copy), "--rebuild"], rerun)
    # BM25, SQLite, the two FAISS files, then the manifest (the commit point)
    assert left == ["old"] * 4 + ["new"]


def test_an_ivf_rebuild_killed_at_each_replacement(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same kills when the rebuild trains IVF indexes (the subprocess inherits the
    lowered threshold): the live IVF generation answers as before until the manifest
    names the new one, and a plain rerun keeps its cells."""
    monkeypatch.setenv("RAG_EXACT_BELOW", "10")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text(NOTE, encoding="utf-8")
    base = tmp_path / "ivf" / "base"
    index_corpus([seeds_copy, extra], base, HashEmbedder(256), progress=False)
    assert {layout["kind"] for layout in Manifest.read(base).layouts.values()} == {"ivf"}

    def rerun(index: Path) -> None:
        before = answers(index)
        index_corpus([seeds_copy], index, HashEmbedder(256), progress=False)
        assert answers(index) == before

    _, _, left = kill_at_every_replacement(base, [str(seeds_copy), "--rebuild"], rerun)
    assert left == ["old"] * 4 + ["new"]


def test_a_chunker_change_killed_at_each_replacement(base: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    settings = ChunkSettings(120, 20)
    finished: list[Answers] = []

    def rerun(index: Path) -> None:  # the same command again: every article re-chunked
        report = index_corpus([extra], index, HashEmbedder(256), settings, progress=False)
        assert report.articles == 6 and report.removed == 0
        assert Manifest.read(index).chunker == settings.to_dict()
        finished.append(answers(index))

    args = [str(extra), "--max-tokens", "120", "--overlap", "20"]
    _, new, left = kill_at_every_replacement(base, args, rerun)
    assert left == ["old"] * 4 + ["new"]
    assert finished == [new] * 5
