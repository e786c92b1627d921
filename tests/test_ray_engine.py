"""The ray engine (``rag index --engine ray``): the same index as the local engine, files that
fail skipped, the same incremental decisions, one-line errors.

One Ray session serves the module (starting Ray costs seconds); the CLI joins it by address.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from ray import cloudpickle as ray_cloudpickle
from test_uploads import PDF_LINES, make_pdf

import rag
from rag.index.chunking import ChunkSettings
from rag.index.embedders import HashEmbedder, make_embedder
from rag.index.faiss_store import FaissStore
from rag.index.indexer import IndexReport, index_corpus
from rag.index.ray_engine import EmbedStage, _by_article, ray_engine
from rag.index.ray_session import start_ray
from rag.ingest.files import split_text
from rag.types import Article

from conftest import ROOT, SEEDS

NEWS_PAGE = ROOT / "tests" / "data" / "ceasefire.html"
WORDS = [
    *("council", "budget", "minister", "drone", "harbour", "election", "court", "river"),
    *("strike", "vaccine", "coalition", "ceasefire", "senator", "refinery", "border"),
    *("festival", "market", "pension", "school", "railway"),
]


@pytest.fixture(scope="module")
def ray_session() -> Iterator[str]:
    """A local Ray for the module, started as the engine starts one, but with the hub
    switches taken out of this process first: the workers get them from the runtime_env
    or not at all."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("HF_HUB_OFFLINE", raising=False)
        env.delenv("TRANSFORMERS_OFFLINE", raising=False)
        stop = start_ray()
    import ray

    yield ray.get_runtime_context().gcs_address
    stop()


def synthetic_corpus(root: Path, articles: int = 24) -> Path:
    """Generated articles (a few long ones), an HTML page, a PDF, a copy and a binary file."""
    rng = random.Random(13)
    root.mkdir(parents=True)
    for n in range(articles):
        paragraphs = 40 if n % 8 == 0 else rng.randint(2, 6)
        body = "\n\n".join(
            " ".join(
                f"The {rng.choice(WORDS)} {rng.choice(WORDS)}s met on day {rng.randint(1, 28)}."
                for _ in range(rng.randint(2, 7))
            )
            for _ in range(paragraphs)
        )
        (root / f"story{n:02d}.txt").write_text(f"Story {n} about the {WORDS[n % 20]}\n\n{body}\n")
    shutil.copy(NEWS_PAGE, root / "page.html")
    (root / "ferry.pdf").write_bytes(make_pdf(PDF_LINES, title="Ferry strike ends"))
    shutil.copy(root / "story01.txt", root / "story01-copy.txt")  # one duplicate article
    (root / "blob.txt").write_bytes(b"\x00\x01binary\x00")  # skipped: binary
    return root


def snapshot(directory: Path) -> dict[str, Any]:
    """What an index holds: chunk rows by key, chunk and window vectors with their ids."""
    store = FaissStore.open(directory)
    try:
        out: dict[str, Any] = {"articles": store.articles()}
        for role, index in (("vectors", store.vectors), ("windows", store.windows)):
            out[role + "_ids"] = faiss.vector_to_array(index.id_map).tolist()
            out[role] = index.index.reconstruct_n(0, index.ntotal)
        out["chunks"] = store.chunks(out["vectors_ids"])
        owners = store.owners
        out["window_owner"] = dict(
            zip(owners.window_ids.tolist(), owners.owners.tolist(), strict=True)
        )
        return out
    finally:
        store.close()


def assert_same_index(local: Path, ray: Path, atol: float) -> None:
    a, b = snapshot(local), snapshot(ray)
    assert len(a["chunks"]) > 0
    for key in ("articles", "vectors_ids", "windows_ids", "chunks", "window_owner"):
        assert a[key] == b[key], key
    for role in ("vectors", "windows"):
        np.testing.assert_allclose(a[role], b[role], atol=atol, err_msg=role)


def summary(report: IndexReport) -> tuple[Any, ...]:
    skipped = sorted((Path(s.path).name, s.reason) for s in report.skipped)
    return (report.files, report.articles, report.chunks, report.duplicates, skipped)


def test_the_same_index_as_the_local_engine(ray_session: str, tmp_path: Path) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus")
    paths = [SEEDS, corpus]
    local = rag.build(paths, tmp_path / "local", embedder="hash:64", progress=False)
    ray = rag.build(paths, tmp_path / "ray", embedder="hash:64", progress=False, engine="ray")
    assert local.report is not None and ray.report is not None
    assert summary(ray.report) == summary(local.report)
    assert ray.report.duplicates == 1 and ray.report.embedded_chunks == ray.report.chunks > 100
    assert [Path(s.path).name for s in ray.report.skipped] == ["blob.txt"]
    assert max(a["chunks"] for a in ray.articles()) >= 10  # the long articles
    assert_same_index(tmp_path / "local", tmp_path / "ray", atol=1e-6)


def test_the_same_incremental_decisions_as_the_local_engine(
    ray_session: str, seeds_copy: Path, tmp_path: Path
) -> None:
    emb = HashEmbedder(64)
    page = seeds_copy / "001_0a9e7fd5bd2f9d69.txt"
    original = page.read_text()
    steps = [
        ("first", original, ChunkSettings()),
        ("unchanged", original, ChunkSettings()),
        ("edited", original.replace("a posture and a pose", "a pose and a posture"), None),
        ("rechunked", None, ChunkSettings(160, 32)),
    ]
    settings = ChunkSettings()
    for name, text, new_settings in steps:
        if text is not None:
            page.write_text(text)
        settings = new_settings or settings
        reports = {}
        for engine in ("local", "ray"):
            if engine == "local":
                reports[engine] = index_corpus([seeds_copy], tmp_path / engine, emb, settings)
                continue
            with ray_engine(emb, progress=False) as runner:
                reports[engine] = index_corpus(
                    [seeds_copy], tmp_path / engine, emb, settings, engine=runner
                )
        counts = {
            engine: (r.added, r.removed, r.unchanged, r.rechunked, r.embedded_chunks, r.chunks)
            for engine, r in reports.items()
        }
        assert counts["ray"] == counts["local"], name
        if name == "unchanged":
            assert counts["ray"][4] == 0  # nothing embedded again
    assert_same_index(tmp_path / "local", tmp_path / "ray", atol=1e-6)


# Ray's workers cannot import this test module: they get its functions by value.
ray_cloudpickle.register_pickle_by_value(sys.modules[__name__])


def explode_on_bad(path: Path, text: str) -> list[Article]:
    """The splitter, raising on files named bad*: a stage failing on one file."""
    if path.name.startswith("bad"):
        raise ValueError(f"cannot split {path.name}\nsecond line of the message")
    return split_text(path, text)


def test_a_file_that_raises_is_skipped_with_a_warning_and_kept(
    ray_session: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=6)
    (corpus / "bad.txt").write_text("A bad file\n\nIts text is fine; the splitter is not.\n")
    emb = HashEmbedder(64)
    first = index_corpus([corpus], tmp_path / "ix", emb, progress=False)  # bad.txt indexed
    with (
        caplog.at_level(logging.WARNING, logger="rag"),
        ray_engine(emb, progress=False, split=explode_on_bad) as runner,
    ):
        again = index_corpus([corpus], tmp_path / "ix", emb, engine=runner)
    warned = [r.getMessage() for r in caplog.records if "bad.txt" in r.getMessage()]
    skipped = [m for m in warned if m.startswith("Skipping")]
    assert len(skipped) == 1 and "\n" not in skipped[0], warned
    assert "the split stage raised ValueError: cannot split bad.txt" in skipped[0]
    assert any(m.startswith("kept the articles of 1 file(s)") for m in warned), warned
    assert "bad.txt" in {Path(s.path).name for s in again.skipped}
    assert (again.removed, again.added, again.articles) == (0, 0, first.articles)  # kept
    fresh = tmp_path / "fresh"
    with ray_engine(emb, progress=False, split=explode_on_bad) as runner:
        report = index_corpus([corpus], fresh, emb, engine=runner)
    assert report.articles == first.articles - 1 and report.files == first.files - 1


def test_an_embedding_failure_names_only_its_rows() -> None:
    stage = EmbedStage("hash:8")
    real = stage.embedder.embed

    def embed(texts: list[str]) -> np.ndarray:
        if any("poison" in t for t in texts):
            raise RuntimeError("the model choked")
        return real(texts)

    stage.embedder.embed = embed  # type: ignore[method-assign]
    batch = {
        "i": np.array([0, 0, 1, 2]),
        "chunk": np.array(['{"x": 1}', "", '{"x": 2}', '{"x": 3}']),
        "text": np.array(["fine", "fine too", "poison", ""]),
        "error": np.array(["", "", "", "unreadable (the chunk stage raised X: y)"]),
    }
    out = stage(batch)
    assert [bool(e) for e in out["error"]] == [False, False, True, True]
    assert "the embed stage raised RuntimeError: the model choked" in out["error"][2]
    np.testing.assert_allclose(out["vector"][:2], real(["fine", "fine too"]))


def test_rows_are_regrouped_by_article() -> None:
    chunk = {"chunk_id": "a:0", "article_id": "a", "ordinal": 0, "text": "T", "start": 0}
    row = json.dumps({**chunk, "end": 1, "n_tokens": 1})
    v = np.ones(4, dtype=np.float32)
    rows = [
        {"i": 0, "chunk": row, "vector": v, "error": ""},
        {"i": 0, "chunk": "", "vector": 2 * v, "error": ""},
        {"i": 0, "chunk": "", "vector": 3 * v, "error": ""},
        {"i": 1, "chunk": "", "vector": v, "error": "unreadable (the chunk stage raised X)"},
        {"i": 1, "chunk": "", "vector": v, "error": ""},
        {"i": 3, "chunk": row, "vector": v, "error": ""},
    ]
    got = list(_by_article(rows, 4))
    assert [(i, len(chunks), error) for i, chunks, error in got] == [
        (0, 1, ""),
        (1, 0, "unreadable (the chunk stage raised X)"),
        (3, 1, ""),
    ]
    assert got[0][1][0].windows.tolist() == [[2.0] * 4, [3.0] * 4]
    assert got[2][1][0].windows.shape == (0, 4)


def test_workers_are_offline_and_report_no_usage(ray_session: str) -> None:
    import ray

    @ray.remote
    def switches() -> tuple[str | None, ...]:
        names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "RAY_USAGE_STATS_ENABLED")
        return tuple(os.environ.get(name) for name in names)

    assert ray.get(switches.remote()) == ("1", "1", "0")


# --- the command line -------------------------------------------------------------------


def run(*args: str, python: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    code = "import sys; " + python + "from rag.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def test_rag_index_engine_ray_end_to_end(ray_session: str, tmp_path: Path) -> None:
    corpus = synthetic_corpus(tmp_path / "corpus", articles=4)
    ix = str(tmp_path / "ix")
    args = ("index", str(corpus), "--index", ix, "--embedder", "hash:64")
    done = run(*args, "--engine", "ray", "--ray-address", ray_session, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["files"], summary["articles"], summary["skipped"]) == (7, 6, 1)
    assert "Traceback" not in done.stderr and "blob.txt" in done.stderr
    kb = rag.load(ix)
    assert {a["title"] for a in kb.articles()} >= {
        f"Story {n} about the {WORDS[n]}" for n in range(4)
    }
    assert len(kb.store) == sum(a["chunks"] for a in kb.articles()) > 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("extra", "python", "message"),
    [
        (["--engine", "ray"], "sys.modules['ray'] = None; ", "pip install 'rag-news[scale]'"),
        (["--engine", "ray", "--ray-address", "127.0.0.1:PORT"], "", "cannot reach a Ray"),
        (["--engine", "ray", "--ray-address", "nowhere"], "", "a Ray address is HOST:PORT"),
        (["--ray-address", "127.0.0.1:6379"], "", "a Ray address is for the ray engine"),
    ],
)
def test_ray_errors_are_one_line(
    tmp_path: Path, extra: list[str], python: str, message: str
) -> None:
    extra = [e.replace("PORT", str(free_port())) for e in extra]
    done = run("index", str(SEEDS), "--index", str(tmp_path / "ix"), *extra, python=python)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("rag: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr and not (tmp_path / "ix").exists()


@pytest.mark.slow
def test_the_same_minilm_index_as_the_local_engine(
    ray_session: str, minilm_kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    ray = rag.build(SEEDS, tmp_path / "ray", embedder="minilm", progress=False, engine="ray")
    assert ray.report is not None and ray.report.chunks == len(minilm_kb.store) == 70
    assert_same_index(minilm_kb.index_dir, tmp_path / "ray", atol=1e-5)
    assert make_embedder("minilm").name == ray.embedder.name


def test_the_cli_offers_every_engine() -> None:
    from rag.cli import build_parser
    from rag.index.engines import ENGINES

    args = build_parser().parse_args(["index", "--engine", "ray"])
    assert args.engine == "ray" and args.ray_address is None
    index = build_parser()._subparsers._group_actions[0].choices["index"]  # type: ignore[union-attr]
    [engine] = [a for a in index._actions if a.dest == "engine"]
    assert sorted(engine.choices or []) == sorted(ENGINES) and engine.default == "local"
