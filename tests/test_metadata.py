"""Article metadata end to end (issue 12): a saved HTML news page and the seeds indexed
together, searched by date from the API and the CLI."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from test_cli import run

import rag
from rag.answer.answerers import LLMAnswerer
from rag.errors import InputError
from rag.llm.base import Message
from rag.llm.scripted import ScriptedLLM

from conftest import SEEDS

NEWS_PAGE = Path(__file__).resolve().parent / "data" / "ceasefire.html"
TRUCE = "ninety-day truce with observers at every crossing"


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("dated") / "corpus"
    shutil.copytree(SEEDS, corpus)
    shutil.copy(NEWS_PAGE, corpus)
    index = corpus.parent / "ix"
    rag.build(corpus, index, embedder="hash:256", progress=False)
    return index


def test_a_date_filter_keeps_dated_articles_in_the_span(dated_index: Path) -> None:
    kb = rag.load(dated_index)
    for since, until in [("2025-03-07", None), (None, "2025-03-07"), ("2025-01-01", "2025-12-31")]:
        hits = kb.search(TRUCE, k=10, since=since, until=until)
        assert hits and {h.published for h in hits} == {"2025-03-07"}  # undated seeds left out
    assert kb.search(TRUCE, since="2025-03-08") == []
    assert kb.search(TRUCE, until="2025-03-06") == []
    assert {h.published for h in kb.search(TRUCE, k=10)} == {"2025-03-07", None}  # no filter


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [("yesterday", None, "since must be a date as YYYY-MM-DD, got 'yesterday'"),
     (None, "2025-02-30", "until must be a date as YYYY-MM-DD, got '2025-02-30'"),
     ("2025-03-08", "2025-03-07", "since (2025-03-08) is after until (2025-03-07)")],
)  # fmt: skip
def test_a_bad_date_is_an_input_error_naming_it(
    dated_index: Path, since: str | None, until: str | None, message: str
) -> None:
    with pytest.raises(InputError) as bad:
        rag.load(dated_index).search(TRUCE, since=since, until=until)
    assert str(bad.value) == message


def test_cli_search_since_prints_the_date_and_json_carries_the_metadata(
    dated_index: Path,
) -> None:
    done = run("search", TRUCE, "--index", str(dated_index), "--since", "2025-03-01", "-k", "2")
    assert done.returncode == 0, done.stderr
    assert "Ceasefire talks resume in Geneva — " in done.stdout
    assert "ceasefire.html (Harbour Post, 2025-03-07)" in done.stdout
    done = run("search", TRUCE, "--index", str(dated_index), "--json", "-k", "10")
    hits = json.loads(done.stdout)["hits"]
    page = next(h for h in hits if h["published"])
    assert (page["publisher"], page["author"]) == ("Harbour Post", "Maria Okafor")
    assert page["url"] == "https://harbourpost.example/world/2025/ceasefire-talks-resume"
    assert any(h["published"] is None for h in hits)
    plain = run("search", "coalition of the willing", "--index", str(dated_index), "-k", "1")
    assert ", date unknown)" in plain.stdout  # the seeds name their publisher, not a date


def test_cli_a_bad_since_is_one_line_naming_it(dated_index: Path) -> None:
    done = run("search", TRUCE, "--index", str(dated_index), "--since", "March")
    assert done.returncode == 2 and "since must be a date as YYYY-MM-DD, got 'March'" in done.stderr


def test_an_answer_from_an_older_article_says_as_of_its_date(tmp_path: Path) -> None:
    older = NEWS_PAGE.read_text(encoding="utf-8")
    older = older.replace("2025-03-07", "2025-03-01").replace("resume", "begin")
    older = older.replace("a third round", "a first round").replace("ninety-day", "sixty-day")
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "begin.html").write_text(older, encoding="utf-8")
    shutil.copy(NEWS_PAGE, tmp_path / "news")
    kb = rag.build(tmp_path / "news", tmp_path / "ix", embedder="hash:256", progress=False)

    def cite(needle: str) -> Callable[[Sequence[Message]], str]:
        def reply(messages: Sequence[Message]) -> str:
            prompt = messages[-1].content
            n = re.findall(r'<source id="(\d+)"', prompt[: prompt.index(needle)])[-1]
            assert 'published="2025-03-0' in prompt  # the date context the model reads
            return f"The envoy wants a {needle} [{n}]."

        return reply

    question = "What truce does the envoy leading the ceasefire talks want?"
    kb.use_answerer(LLMAnswerer(ScriptedLLM(cite("sixty-day truce"))))
    answer = kb.ask(question, backend="scripted")
    assert not answer.abstained and answer.citations[0].hit.published == "2025-03-01"
    assert answer.note.startswith("As of 2025-03-01 ") and "2025-03-07" in answer.note
    kb.use_answerer(LLMAnswerer(ScriptedLLM(cite("ninety-day truce"))))
    assert kb.ask(question, backend="scripted").note == ""  # the newest article: no note
