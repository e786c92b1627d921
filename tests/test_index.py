"""Contract tests for the on-disk index: incremental, atomic, checked on load."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rag
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.index.chunking import ChunkSettings
from rag.index.embedders import HashEmbedder
from rag.index.indexer import index_corpus
from rag.index.manifest import Manifest


class CountingEmbedder(HashEmbedder):
    """Counts the texts it embeds, so tests can prove what was (not) re-embedded."""

    def __init__(self) -> None:
        super().__init__(64)
        self.embedded: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed(texts)


def test_build_load_and_counts(seeds_copy: Path, tmp_path: Path) -> None:
    kb = rag.build(seeds_copy, tmp_path / "ix", embedder="hash:64", progress=False)
    assert kb.report is not None
    assert (kb.report.files, kb.report.articles) == (2, 5)
    assert kb.report.chunks == len(kb.store) > 20
    again = rag.load(tmp_path / "ix")
    assert len(again.store) == len(kb.store)
    assert {a["title"] for a in again.articles()} == {a["title"] for a in kb.articles()}


def test_reindexing_an_unchanged_corpus_embeds_nothing(seeds_copy: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    first = index_corpus([seeds_copy], tmp_path / "ix", emb, progress=False)
    windows = rag.load(tmp_path / "ix", embedder=emb).store.windows.ntotal
    assert len(emb.embedded) == first.chunks + windows  # each chunk and its sentence windows
    emb.embedded.clear()
    second = index_corpus([seeds_copy], tmp_path / "ix", emb, progress=False)
    assert emb.embedded == [] and second.unchanged == 5 and second.chunks == first.chunks


def test_a_changed_article_is_reembedded_alone(seeds_copy: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    index_corpus([seeds_copy], tmp_path / "ix", emb, progress=False)
    page = seeds_copy / "001_0a9e7fd5bd2f9d69.txt"
    page.write_text(page.read_text().replace("a posture and a pose", "a pose and a posture"))
    emb.embedded.clear()
    report = index_corpus([seeds_copy], tmp_path / "ix", emb, progress=False)
    assert (report.added, report.removed, report.unchanged) == (1, 1, 4)
    kb = rag.load(tmp_path / "ix", embedder=emb)
    week = [a for a in kb.articles() if a["publisher"] == "The Week"]
    week_windows = kb.store.db.execute(
        "SELECT COUNT(*) FROM windows JOIN chunks USING(faiss_id) WHERE article_id = ?",
        (week[0]["article_id"],),
    ).fetchone()[0]
    assert week_windows > week[0]["chunks"]
    assert len(emb.embedded) == week[0]["chunks"] + week_windows  # only The Week's texts
    assert any("a pose and a posture" in t for t in emb.embedded)
    texts = [h.text for h in kb.search("Witkoff posture pose", k=3)]
    assert any("a pose and a posture" in t for t in texts)
    assert not any("a posture and a pose" in t for t in texts)


def test_a_deleted_files_chunks_disappear(seeds_copy: Path, tmp_path: Path) -> None:
    index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    (seeds_copy / "001_0a9e7fd5bd2f9d69.txt").unlink()
    report = index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    assert report.removed == 1 and report.articles == 4
    kb = rag.load(tmp_path / "ix")
    assert all(a["publisher"] != "The Week" for a in kb.articles())
    assert all("Witkoff" not in h.text for h in kb.search("Witkoff posture pose", k=10))
    rows = kb.store.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert rows == len(kb.store)  # FAISS and SQLite agree
    windows = kb.store.db.execute(
        "SELECT COUNT(*) FROM windows WHERE faiss_id NOT IN (SELECT faiss_id FROM chunks)"
    ).fetchone()[0]
    assert windows == 0 and len(kb.store.owners) == kb.store.windows.ntotal


def test_indexing_another_folder_keeps_the_first(seeds_copy: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Budget news\n\nThe council approved a new budget for parks.")
    index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    report = index_corpus([other], tmp_path / "ix", HashEmbedder(64), progress=False)
    assert report.articles == 6 and report.removed == 0


def test_new_chunker_settings_rechunk_every_article_held(seeds_copy: Path, tmp_path: Path) -> None:
    """Issue 14: `rag index seeds` then `rag index extra --max-tokens 120` kept 1 article of 6."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Budget news\n\nThe council approved a new budget for parks.")
    first = index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    report = index_corpus(
        [other], tmp_path / "ix", HashEmbedder(64), ChunkSettings(120, 20), progress=False
    )
    assert (report.articles, report.added, report.removed, report.rechunked) == (6, 1, 0, 5)
    assert report.chunks > first.chunks  # smaller chunks, more of them
    kb = rag.load(tmp_path / "ix")
    assert kb.store.settings.chunker == {"max_tokens": 120, "overlap_tokens": 20}
    sql = "SELECT MAX(n_tokens), COUNT(DISTINCT article_id) FROM chunks"
    longest, articles = kb.store.db.execute(sql).fetchone()
    assert longest <= 120 and articles == 6
    assert all(a["chunks"] > 0 for a in kb.articles())
    assert kb.search("Witkoff posture pose", k=1, mode="bm25")[0].publisher == "The Week"


def _deny(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` unreadable, for root too (who ignores the permission bits)."""
    path.chmod(0)
    if os.geteuid() != 0:
        return
    scandir, read_bytes = os.scandir, Path.read_bytes

    def denied(target: object) -> bool:
        return Path(str(target)) == path or path in Path(str(target)).parents

    def guarded_scandir(target: object = ".") -> object:
        if denied(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(target))
        return scandir(target)  # type: ignore[call-overload]

    def guarded_read(self: Path) -> bytes:
        if denied(self):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    monkeypatch.setattr(Path, "read_bytes", guarded_read)


@pytest.mark.parametrize("deny", ["folder", "file"])
def test_what_cannot_be_read_now_is_warned_about_and_kept(
    seeds_copy: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    deny: str,
) -> None:
    """Issue 14: an unreadable folder was skipped without a word and its articles removed."""
    news = tmp_path / "news"
    shutil.copytree(seeds_copy, news / "sky")
    shutil.move(news / "sky" / "001_0a9e7fd5bd2f9d69.txt", news / "week.txt")
    index_corpus([news], tmp_path / "ix", HashEmbedder(64), progress=False)
    denied = news / "sky" if deny == "folder" else news / "sky" / "000_2dd91a298db4a255.txt"
    _deny(denied, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = index_corpus([news], tmp_path / "ix", HashEmbedder(64), progress=False)
    denied.chmod(0o755)
    assert (report.articles, report.removed) == (5, 0)
    assert [(s.path, s.unreadable) for s in report.skipped] == [(str(denied), True)]
    assert report.skipped[0].reason.startswith("unreadable")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"Skipping {denied}: unreadable" in w for w in warnings)
    assert any("kept the articles of 1 file(s) that cannot be read now" in w for w in warnings)
    monkeypatch.undo()
    (news / "sky" / "000_2dd91a298db4a255.txt").unlink()  # really gone: removed
    report = index_corpus([news], tmp_path / "ix", HashEmbedder(64), progress=False)
    assert (report.articles, report.removed) == (1, 4)


def test_loading_with_another_embedder_is_refused(seeds_copy: Path, tmp_path: Path) -> None:
    index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    with pytest.raises(IndexMismatch, match=r"hash:64.*--rebuild"):
        rag.load(tmp_path / "ix", embedder="hash:32")
    with pytest.raises(IndexMismatch):
        index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(32), progress=False)
    report = index_corpus(
        [seeds_copy], tmp_path / "ix", HashEmbedder(32), rebuild=True, progress=False
    )
    assert report.articles == 5


def test_a_corrupted_file_fails_its_checksum(seeds_copy: Path, tmp_path: Path) -> None:
    index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    manifest = Manifest.read(tmp_path / "ix")
    vectors = tmp_path / "ix" / manifest.files["vectors"]
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    # the advice names the broken index, not ./index (issue 14)
    advice = re.escape(f"rag index PATH --index {tmp_path / 'ix'} --rebuild")
    with pytest.raises(IndexCorrupt, match=f"fails its checksum: rebuild it with: {advice}"):
        rag.load(tmp_path / "ix")
    with pytest.raises(IndexCorrupt, match="fails its checksum"):  # nor is it built on
        index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    (tmp_path / "ix" / manifest.files["bm25"]).unlink()
    with pytest.raises(IndexCorrupt, match=f"missing: rebuild it with: {advice}"):
        rag.load(tmp_path / "ix")


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="rag index"):
        rag.load(tmp_path / "nothing")


def test_no_pickle_in_the_index(seeds_copy: Path, tmp_path: Path) -> None:
    index_corpus([seeds_copy], tmp_path / "ix", HashEmbedder(64), progress=False)
    names = sorted(p.name for p in (tmp_path / "ix").iterdir() if not p.name.startswith("."))
    assert [n.split("-")[0].split(".")[0] for n in names] == [
        "bm25",
        "chunks",
        "manifest",
        "vectors",
        "windows",
    ]
    json.loads((tmp_path / "ix" / "manifest.json").read_text())


def _big_corpus(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        body = "\n\n".join(
            f"Report {i} paragraph {j}: the committee discussed item {i * 7 + j} at length. "
            f"Members voted {j} times on amendment {i}."
            for j in range(30)
        )
        (folder / f"a{i:04d}.txt").write_text(f"Headline number {i}\n\n{body}\n")


def test_a_killed_index_run_leaves_the_previous_index_loadable(
    seeds_copy: Path, tmp_path: Path
) -> None:
    """SIGKILL `rag index` at several moments; the old index must always load."""
    ix = tmp_path / "ix"
    index_corpus([seeds_copy], ix, HashEmbedder(64), progress=False)
    before = len(rag.load(ix).store)
    big = tmp_path / "big"
    _big_corpus(big, 150)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    outcomes = set()
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "index",
                str(big),
                str(seeds_copy),
                "--index",
                str(ix),
                "--embedder",
                "hash:64",
                "--json",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        live = set(Manifest.read(ix).files.values()) | {"manifest.json", ".lock"}
        if any(p.name not in live for p in ix.iterdir()):
            outcomes.add("mid-write")  # it died while writing the next generation
        kb = rag.load(ix)  # must not raise: old or new generation, never half of one
        size = len(kb.store)
        outcomes.add("new" if size > before else "old")
        assert size in (before, size) and kb.search("committee amendment", k=1)
        kb.store.close()
        if size > before:  # it finished: start again from the seeds only
            index_corpus([seeds_copy], ix, HashEmbedder(64), rebuild=True, progress=False)
    assert {"old", "mid-write"} <= outcomes  # some kills landed while files were being written


# --- article metadata (issue 12) ----------------------------------------------------------

NEWS_PAGE = Path(__file__).resolve().parent / "data" / "ceasefire.html"


def test_article_metadata_is_stored_and_comes_back_on_hits(
    seeds_copy: Path, tmp_path: Path
) -> None:
    shutil.copy(NEWS_PAGE, seeds_copy)
    rag.build(seeds_copy, tmp_path / "ix", embedder="hash:256", progress=False)
    kb = rag.load(tmp_path / "ix")  # read back from disk, not the builder's memory
    [hit] = kb.search("ninety-day truce observers at every crossing", k=1)
    assert (hit.title, hit.publisher, hit.published, hit.author) == (
        "Ceasefire talks resume in Geneva",
        "Harbour Post",
        "2025-03-07",
        "Maria Okafor",
    )
    assert hit.to_dict()["url"] == "https://harbourpost.example/world/2025/ceasefire-talks-resume"
    seed = kb.search("coalition of the willing", k=1)[0].to_dict()
    assert (seed["published"], seed["author"], seed["url"]) == (None, "", "")
    dated = {a["title"]: a["published"] for a in kb.articles()}
    assert dated["Ceasefire talks resume in Geneva"] == "2025-03-07"


def test_an_index_of_the_previous_format_is_refused_with_the_rebuild_command(
    seeds_copy: Path, tmp_path: Path
) -> None:
    index = tmp_path / "ix"
    rag.build(seeds_copy, index, embedder="hash:64", progress=False)
    manifest = json.loads((index / "manifest.json").read_text())
    (index / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))
    with pytest.raises(IndexMismatch, match=r"index format 2 .* reads 3 and 4") as refused:
        rag.load(index)
    assert f"rag index PATH --index {index} --rebuild" in str(refused.value)
    rag.build(seeds_copy, index, embedder="hash:64", rebuild=True, progress=False)  # the hint's
    assert len(rag.load(index).store) > 20
