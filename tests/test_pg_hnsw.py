"""The PostgreSQL store's HNSW settings ($RAG_PG_HNSW_M, $RAG_PG_EF_CONSTRUCTION,
$RAG_PG_EF_SEARCH): parsed and refused by name without a server, then taken by a real
server (the index definitions pgvector stores, the session's ``hnsw.ef_search``), and a
bad one refused before a rebuild writes anything."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from contracts.store import Place, write

from rag.cli import main as cli_main
from rag.errors import ConfigError
from rag.index.pg_hnsw import Hnsw, hnsw_settings
from rag.index.store import STORES

from conftest import SEEDS


def place(url: str) -> Place:
    return Place(STORES["postgresql"], url)


def test_the_defaults_are_pgvectors_own_and_a_deep_candidate_list() -> None:
    assert hnsw_settings({}) == Hnsw(m=16, ef_construction=64, ef_search=200)
    assert hnsw_settings({"RAG_PG_EF_SEARCH": " 1000 "}).ef_search == 1000


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("RAG_PG_HNSW_M", "1"),
        ("RAG_PG_HNSW_M", "101"),
        ("RAG_PG_HNSW_M", "sixteen"),
        ("RAG_PG_EF_CONSTRUCTION", "2.5"),
        ("RAG_PG_EF_CONSTRUCTION", "1001"),
        ("RAG_PG_EF_SEARCH", "0"),
        ("RAG_PG_EF_SEARCH", "-200"),
        ("RAG_PG_EF_SEARCH", "5000"),
    ],
)
def test_a_value_outside_pgvectors_range_is_named(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as error:
        hnsw_settings({name: raw})
    assert str(error.value).startswith(f"{name} must be a whole number from ")
    assert repr(raw) in str(error.value)


@pytest.mark.postgres
def test_the_server_builds_and_searches_with_the_settings(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_PG_HNSW_M", "8")
    monkeypatch.setenv("RAG_PG_EF_CONSTRUCTION", "40")
    monkeypatch.setenv("RAG_PG_EF_SEARCH", "77")
    write(place(pg_url), tmp_path, ["budget"])
    with psycopg.connect(pg_url) as conn:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'"
        found = dict(conn.execute(sql).fetchall())
    assert set(found) == {"rag_chunks_hnsw", "rag_windows_hnsw"}
    for definition in found.values():
        assert "m='8'" in definition and "ef_construction='40'" in definition
    opened = place(pg_url).open()
    try:
        assert opened.conn.execute("SHOW hnsw.ef_search").fetchone()[0] == "77"
    finally:
        opened.close()


@pytest.mark.postgres
def test_a_bad_setting_stops_a_rebuild_before_it_writes(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["index", str(SEEDS), "--embedder", "hash:256", "--store", pg_url]
    assert cli_main([*argv, "--index", str(tmp_path / "a")]) == 0
    opened = place(pg_url).open()
    try:
        before = [a["article_id"] for a in opened.articles()]
    finally:
        opened.close()
    capsys.readouterr()
    monkeypatch.setenv("RAG_PG_HNSW_M", "64")  # ef_construction stays 64: under twice m
    assert cli_main([*argv, "--rebuild", "--index", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "rag: error: RAG_PG_EF_CONSTRUCTION must be at least twice RAG_PG_HNSW_M (128), got 64"
    )
    monkeypatch.delenv("RAG_PG_HNSW_M")
    opened = place(pg_url).open()
    try:
        assert [a["article_id"] for a in opened.articles()] == before != []
    finally:
        opened.close()
