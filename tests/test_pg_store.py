"""The PostgreSQL store beyond the Store contract: generations, a killed or a second
writer, the schema version, messages without passwords, --store and $RAG_STORE_URL, and
the eval's retrieval on it against FAISS's. Each test gets an empty database
(tests/pg_fixtures.py); the contract suite runs in tests/test_store_contract.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from contracts.store import PASSAGES, SETTINGS, Place, article, embedded, write

import rag
from rag.cli import main as cli_main
from rag.errors import ConfigError, IndexMismatch, IndexNotFound, InputError
from rag.evaluation.overall import overall
from rag.evaluation.records import load_questions
from rag.evaluation.runner import evaluate
from rag.index.base import ChunkFilter
from rag.index.pg_schema import redact
from rag.index.store import STORES

from conftest import ROOT, SEEDS

pytestmark = pytest.mark.postgres


def place(url: str) -> Place:
    return Place(STORES["postgresql"], url)


def titles(url: str) -> list[str]:
    opened = place(url).open()
    try:
        return sorted(a["article_id"] for a in opened.articles())
    finally:
        opened.close()


def test_a_reader_keeps_its_generation_while_writers_commit(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["drones"])
    reader = place(pg_url).open()
    drones = reader.ids_where(ChunkFilter())
    with place(pg_url).writer() as writer:
        writer.remove(["drones"])
        item, chunks = article("talks", tmp_path)
        writer.add(item, embedded(chunks))
        assert titles(pg_url) == ["drones"]  # another reader sees nothing before the commit
        writer.commit()
    assert titles(pg_url) == ["talks"]
    # The reader opened before the commit still reads its generation, every ranking of it.
    assert reader.ids_where(ChunkFilter()) == drones and len(reader) == 2
    assert {k for k, _ in reader.lexical("refineries drones", 5)} <= drones
    assert reader.chunks(sorted(drones)) and reader.lexical("Uzbekistan", 5) == []
    write(place(pg_url), tmp_path, ["budget"])  # one more: its generation is still whole
    assert reader.ids_where(ChunkFilter()) == drones
    write(place(pg_url), tmp_path, [])  # and another: its rows are purged, it moves on
    assert {a["article_id"] for a in reader.articles()} == {"talks", "budget"}
    reader.close()


WRITER = """
import sys, time
from contracts.store import article, embedded, SETTINGS
from rag.index.store import STORES
from pathlib import Path
with STORES["postgresql"].writer(sys.argv[1], SETTINGS, False) as writer:
    writer.remove(["drones"])
    item, chunks = article("talks", Path(sys.argv[2]))
    writer.add(item, embedded(chunks))
    print("written", flush=True)
    time.sleep(120)
"""


def test_a_killed_writer_leaves_the_live_generation(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["drones"])
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, pg_url, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "written\n"
        with pytest.raises(InputError, match="another 'rag index' is writing"):
            place(pg_url).writer().__enter__()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert titles(pg_url) == ["drones"]
    for _ in range(50):  # the server frees the lock when it sees the connection gone
        try:
            assert write(place(pg_url), tmp_path, ["budget"]) == {"articles": 2, "chunks": 3}
            break
        except InputError:
            time.sleep(0.1)
    assert titles(pg_url) == ["budget", "drones"]


def test_a_second_writer_is_refused_and_the_first_commits(pg_url: str, tmp_path: Path) -> None:
    with place(pg_url).writer() as first:
        with pytest.raises(InputError) as refused:
            place(pg_url).writer().__enter__()
        assert str(refused.value) == (
            f"another 'rag index' is writing {redact(pg_url)}; try again later"
        )
        item, chunks = article("budget", tmp_path)
        first.add(item, embedded(chunks))
        assert first.commit() == {"articles": 1, "chunks": 1}
    assert titles(pg_url) == ["budget"]


def test_a_newer_schema_is_refused(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["budget"])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE rag_meta SET schema_version = 99")
    message = "has schema version 99, newer than this rag-news reads"
    with pytest.raises(IndexMismatch, match=message):
        place(pg_url).open()
    with pytest.raises(IndexMismatch, match=message), place(pg_url).writer():
        pass


def test_an_empty_database_has_no_index(pg_url: str) -> None:
    with pytest.raises(IndexNotFound, match="run 'rag index PATH --store URL'"):
        place(pg_url).open()


def test_another_embedder_is_refused_with_the_store_to_rebuild(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["budget"])
    with pytest.raises(IndexMismatch, match=r"--store '?postgresql://\S+ --rebuild"):
        rag.load("unused", store=pg_url, embedder="hash:64")


def hnsw_indexes(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        sql = "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'"
        return {row[0] for row in conn.execute(sql)}


def test_the_first_writer_builds_the_hnsw_indexes_at_commit(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["budget"])
    assert hnsw_indexes(pg_url) == {"rag_chunks_hnsw", "rag_windows_hnsw"}
    write(place(pg_url), tmp_path, ["talks"])  # a later writer keeps them up
    assert hnsw_indexes(pg_url) == {"rag_chunks_hnsw", "rag_windows_hnsw"}
    opened = place(pg_url).open()
    try:
        with opened.conn.cursor() as cur:  # the index serves the ranking
            cur.execute("SET enable_seqscan = off")  # a table this small would be scanned
            plan = cur.execute(
                "EXPLAIN SELECT key FROM rag_chunks ORDER BY vector <=> %s LIMIT 5",
                (opened.vector(max(opened.ids_where(ChunkFilter()))),),
            ).fetchall()
        assert "rag_chunks_hnsw" in " ".join(row[0] for row in plan)
    finally:
        opened.close()


def test_a_rebuild_with_another_dimension_makes_new_tables(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["budget"])
    kb = rag.build(SEEDS, tmp_path / "local", embedder="hash:64", store=pg_url,
                   rebuild=True, progress=False)  # fmt: skip
    assert kb.store.settings.dim == 64 and len(kb.search("coalition of the willing")) == 5
    assert "budget" not in {a["article_id"] for a in kb.articles()}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:s3cret-pw@127.0.0.1:1/news",  # nothing listens on port 1
        "postgresql://ann:s3cret-pw@/news?host=/nonexistent-dir",
        "postgresql://ann@127.0.0.1:1/news?password=s3cret-pw",
        "postgresql://ann:s3cret-pw@127.0.0.1:notaport/news",
    ],
)
def test_a_bad_url_is_one_line_naming_it_without_the_password(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError) as error:
        rag.load(tmp_path, store=url)
    assert "s3cret" not in str(error.value) and "ann@" in str(error.value)
    assert cli_main(["search", "anything", "--store", url, "--index", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rag: error: cannot connect to the PostgreSQL store postgresql://ann@")
    assert "s3cret" not in err and err.count("\n") == 1


def test_a_database_without_pgvector_is_named(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, ["budget"])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP EXTENSION vector CASCADE")
    with pytest.raises(ConfigError, match="has no pgvector extension"):
        place(pg_url).open()


def test_cli_index_then_search_with_store(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "local"
    argv = [
        "index",
        str(SEEDS),
        "--embedder",
        "hash:256",
        "--store",
        pg_url,
        "--index",
        str(folder),
    ]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert f"in {redact(pg_url)}" in out and not folder.exists()  # nothing written locally
    argv = ["search", "coalition of the willing", "--store", pg_url, "-k", "3", "--json"]
    assert cli_main(argv) == 0
    assert "coalition" in capsys.readouterr().out.lower()


def test_rag_store_url_sets_the_store_for_build_and_load(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_STORE_URL", pg_url)
    kb = rag.build(SEEDS, tmp_path / "index", embedder="hash:256", progress=False)
    assert kb.store_kind == "postgresql" and not (tmp_path / "index").exists()
    assert kb.uploads_dir == tmp_path / "index" / "uploads"  # local copies of uploads
    again = rag.load(tmp_path / "index")
    assert len(again.store) == len(kb.store) > 0
    with pytest.raises(IndexNotFound):  # 'faiss' takes the folder even with the variable set
        rag.load(tmp_path / "index", store="faiss")


def test_uploads_and_removals_go_to_the_database(pg_url: str, tmp_path: Path) -> None:
    kb = rag.build(SEEDS, tmp_path / "index", embedder="hash:256", store=pg_url, progress=False)
    before = len(kb.articles())
    news = tmp_path / "harbour.txt"
    news.write_text("Harbour reopens\n\nThe old harbour reopened to ferries on Monday.\n")
    assert [r.status for r in kb.add([news])] == ["indexed"]
    assert len(rag.load(tmp_path, store=pg_url).articles()) == before + 1
    added = next(a for a in kb.articles() if a["title"] == "Harbour reopens")
    kb.remove(added["article_id"])
    assert len(rag.load(tmp_path, store=pg_url).articles()) == before


def _retrieval(kb: rag.KnowledgeBase, limit: int | None = None) -> tuple[float, float]:
    """The eval's hit@5 and MRR (extractive backend) on ``limit`` questions spread over
    the file (all when None)."""
    questions = load_questions(ROOT / "eval" / "questions.jsonl", limit)
    scores = overall(evaluate(kb, questions, "extractive", k=5))
    assert scores.hit_at_k is not None and scores.mrr is not None
    return scores.hit_at_k, scores.mrr


def test_eval_hit_at_5_matches_faiss_with_the_hash_embedder(
    pg_url: str, hash_kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    pg = rag.build(SEEDS, tmp_path, embedder="hash:256", store=pg_url, progress=False)
    assert len(pg.store) == len(hash_kb.store) and pg.store.settings == hash_kb.store.settings
    hit_pg, _ = _retrieval(pg)
    hit_faiss, _ = _retrieval(hash_kb)
    assert abs(hit_pg - hit_faiss) <= 0.01, (hit_pg, hit_faiss)


@pytest.mark.slow
def test_eval_hit_at_5_matches_faiss_with_minilm(
    pg_url: str, minilm_kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    pg = rag.build(SEEDS, tmp_path, embedder=minilm_kb.embedder, store=pg_url, progress=False)
    # 60 of the 200 questions keep it near a minute; scripts/pg_lexical.py runs them all.
    hit_pg, _ = _retrieval(pg, 60)
    hit_faiss, _ = _retrieval(minilm_kb, 60)
    assert abs(hit_pg - hit_faiss) <= 0.01, (hit_pg, hit_faiss)


def test_settings_are_stored_with_the_index(pg_url: str, tmp_path: Path) -> None:
    write(place(pg_url), tmp_path, list(PASSAGES))
    opened = place(pg_url).open()
    assert opened.settings == SETTINGS and opened.location == redact(pg_url)
    opened.close()


def test_chat_builds_the_store_from_seeds_when_it_has_no_index(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui import app

    real_build = rag.build
    monkeypatch.setattr(app.rag, "build", lambda seeds, index, progress, store: real_build(
        seeds, index, embedder="hash:64", progress=False, store=store))  # fmt: skip
    kb = app.open_index(tmp_path / "index", SEEDS, pg_url)
    assert kb.store_kind == "postgresql" and len(kb.articles()) == 5
    assert f"No index in {redact(pg_url)}: indexing" in capsys.readouterr().err


def test_eval_runs_on_the_store_and_reports_it_without_password(
    pg_url: str, tmp_path: Path
) -> None:
    rag.build(SEEDS, tmp_path, embedder="hash:256", store=pg_url, progress=False)
    out = tmp_path / "reports"
    argv = ["eval", "--store", pg_url, "--backend", "extractive", "--limit", "3"]
    assert cli_main([*argv, "--out", str(out)]) == 0
    report = next(out.rglob("report.json")).read_text()
    assert redact(pg_url) in report
