"""The ``openai`` backend against a real server: llama-cpp-python's own, on loopback.

One server per module, started by ``python -m rag.llm.serve`` (``llama_cpp.server``
after the runtime check and the CPU backend load) with the bundled GGUF, answers a few
eval questions through ``kb.ask`` and through ``rag eval`` in a child process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import rag
from rag.evaluation.grade import is_right
from rag.evaluation.records import Question, load_questions
from rag.llm.serve import ALIAS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
# In the local backend's CI slice and answered right there. Through the openai backend the
# same 1.5B model refuses most of that slice ("The articles do not say."): without P("Yes")
# it gets the prompt with a refusal exit (README, "Answering with the local model"). It
# answers q036 ("Which Sky News correspondent did Nigel Farage speak to ...?"), with a citation.
ANSWERABLE = "q036"
# "What is the capital of Australia?": refused before the model, as with every backend (the
# best passage is too far); the slice's other two, q150 and q157, this model answers anyway.
UNANSWERABLE = "q164"
START_TIMEOUT = 300.0  # seconds for the server to load the model on a busy machine
# The machine may be busy: give the server time, as the local backend has.
SLOW_SERVER = {"RAG_OPENAI_TIMEOUT": "600", "RAG_OPENAI_DEADLINE": "900"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once ``url`` answers; fail with the server's last words if it dies or stalls."""
    give_up = time.monotonic() + START_TIMEOUT
    while time.monotonic() < give_up:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the server did not answer {url} in {START_TIMEOUT:g} s:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The bundled model served on loopback; yields the ``RAG_OPENAI_*`` settings for it."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "rag.llm.serve", "--port", str(port)]
    command += ["--n_ctx", "4096", "--n_threads", "2"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        wait_until_up(server, base_url + "/models", log)
        settings = {"RAG_OPENAI_BASE_URL": base_url, "RAG_OPENAI_MODEL": ALIAS, **SLOW_SERVER}
        with pytest.MonkeyPatch.context() as env:
            for name, value in settings.items():
                env.setenv(name, value)
            yield settings
    finally:
        stop(server)


def question(qid: str) -> Question:
    (found,) = load_questions(QUESTIONS, ids=[qid])
    return found


def test_the_server_lists_the_model_under_its_alias(served: dict[str, str]) -> None:
    url = served["RAG_OPENAI_BASE_URL"] + "/models"
    with urllib.request.urlopen(url, timeout=30) as response:
        models = json.load(response)
    assert [m["id"] for m in models["data"]] == [ALIAS]


def test_an_answerable_question_is_answered_right_with_a_valid_citation(
    served: dict[str, str], own_minilm_kb: rag.KnowledgeBase
) -> None:
    asked = question(ANSWERABLE)
    answer = own_minilm_kb.ask(asked.question, backend="openai")
    assert answer.backend == "openai"
    assert is_right(asked, answer.text, answer.abstained), answer.text
    # Greedy output differs between llama.cpp's CPU variants: on the AVX2 one the model
    # answered right but wrote no marker; the re-pointing step cites such a claim to the
    # passage that holds it (rag.answer.repoint), so a citation is required on every variant.
    assert answer.citations, answer.text
    assert not answer.dropped_citations
    shown = {hit.chunk_id for hit in answer.sources}
    assert all(c.hit.chunk_id in shown for c in answer.citations)
    assert asked.article in {c.hit.title for c in answer.citations}


def test_an_unanswerable_question_is_refused(
    served: dict[str, str], own_minilm_kb: rag.KnowledgeBase
) -> None:
    answer = own_minilm_kb.ask(question(UNANSWERABLE).question, backend="openai")
    assert answer.abstained, answer.text
    assert not answer.citations


def test_rag_eval_runs_end_to_end_against_the_server(
    served: dict[str, str], minilm_kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    ids = f"{ANSWERABLE},{UNANSWERABLE}"
    command = [sys.executable, "-m", "rag.cli", "eval", "--backend", "openai", "--ids", ids]
    command += ["--index", str(minilm_kb.index_dir), "--out", str(tmp_path), "--judge", "none"]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy(), check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(next(tmp_path.rglob("report.json")).read_text(encoding="utf-8"))
    assert report["settings"]["backend"] == "openai"
    answered, refused = report["questions"]
    assert (answered["id"], answered["correct"]) == (ANSWERABLE, True)
    assert (refused["id"], refused["abstained"]) == (UNANSWERABLE, True)
