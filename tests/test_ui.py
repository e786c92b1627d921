"""The chat app without a browser: rendering, one chat turn, examples, the live server's API.

The seeds are indexed with the fast hash embedder; its vectors are cruder than MiniLM's, so
the questions search K = 10 passages (the "posture and pose" passage ranks 6th to 8th).
"""

from __future__ import annotations

import html
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.errors import BackendError
from rag.llm.base import Message
from rag.llm.scripted import JudgedLLM, ScriptedLLM
from rag.types import Answer, Hit
from ui import chat
from ui.chat import (
    ABSTAINED,
    BUG,
    LOADING,
    SEARCHING,
    STOPPED,
    Turn,
    answer_display,
    history,
    messages,
    respond,
    stopped,
    writing_display,
)
from ui.examples import as_question, candidates, example_questions, headline_question, topic
from ui.render import (
    linked_markers,
    mark_spans,
    markdown_text,
    passage_html,
    shorten,
    source_path,
    sources_html,
)
from ui.stop import PRESS, Halt
from ui.worker import in_thread

# Gradio's queue uses a pandas option that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:'future.no_silent_downcasting'", "ignore:The copy keyword is deprecated"
)
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ENVOY = "What did Trump's special envoy call the coalition of the willing?"
FOLLOW_UPS = ["What did Russia say about it?", "Will it work?", "Who leads it?",
              "And what did Meloni say about it?"]  # fmt: skip
K = 10
OUT_OF_CORPUS = "Who won the 2018 World Cup?"
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "**bold** _it_ `code` # head",
    "${alert(2)} {{constructor}} $$x^2$$",
    "a &amp; b",
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ui-index")
    rag.build(SEEDS, directory, embedder="hash:128", progress=False)
    return directory


@pytest.fixture(scope="module")
def kb(index_dir: Path) -> rag.KnowledgeBase:
    return rag.load(index_dir)


@pytest.fixture
def fresh_kb(index_dir: Path) -> rag.KnowledgeBase:
    """A private KnowledgeBase, for tests that register fake answerers on it."""
    return rag.load(index_dir)


def last(turns_seq: Sequence[list[Turn]]) -> Turn:
    return turns_seq[-1][-1]


def run(kb: rag.KnowledgeBase, question: str, turns: list[Turn] | None = None,
        backend: str = "extractive", k: int = K) -> list[list[Turn]]:  # fmt: skip
    """Every state respond() yields."""
    return list(respond(kb, question, turns or [], backend, k))


def follow_up_needing_history(kb: rag.KnowledgeBase, first: str, answer: str) -> tuple[str, str]:
    """A follow-up whose answer changes with the history, and that answer (from the API)."""
    past = [{"role": "user", "content": first}, {"role": "assistant", "content": answer}]
    for question in FOLLOW_UPS:
        with_history = kb.ask(question, history=past, backend="extractive", k=K).text
        if with_history != kb.ask(question, backend="extractive", k=K).text:
            return question, with_history
    raise AssertionError(f"none of {FOLLOW_UPS} depends on the history in this index")


# --- rendering -------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_text_shows_any_text_literally(payload: str) -> None:
    escaped = markdown_text(payload)
    assert "<" not in escaped and ">" not in escaped
    unescaped = html.unescape(re.sub(r"\\(.)", r"\1", escaped))
    assert unescaped == payload  # nothing lost: the reader sees exactly the text
    assert not re.search(r"(?<!\\)[*_`\[\]()$#{}]", escaped)  # no live Markdown syntax


def test_mark_spans_marks_the_quoted_sentence_with_its_punctuation() -> None:
    quote = 'Witkoff called the coalition "a posture and a pose".'
    passage = f"Drones flew. {quote} Then rain."
    spans = mark_spans(passage, [quote.replace(".", "")])  # found without its full stop, too
    assert [passage[a:b] for a, b in spans] == [quote]


def test_mark_spans_falls_back_to_the_best_overlapping_sentence() -> None:
    passage = "Drones flew at night. Ukraine now makes 500 long-range drones every month. Rain."
    spans = mark_spans(passage, ["Ukraine makes 500 long-range drones a month."])
    assert [passage[a:b] for a, b in spans] == [
        "Ukraine now makes 500 long-range drones every month."
    ]
    assert mark_spans(passage, ["Bakers sold four thousand pies."]) == []


def test_passage_html_escapes_and_keeps_one_html_block() -> None:
    passage = "Intro <b>x</b>.\n\nThe <img src=x onerror=alert(1)> line.\nEnd."
    start = passage.index("The")
    out = passage_html(passage, [(start, passage.index("line.") + 5)])
    assert "<img" not in out and "<b>" not in out
    assert "<mark>The &lt;img src=x onerror=alert(1)&gt; line.</mark>" in out
    assert "\n" not in out  # a blank line would end the HTML block inside the chat's Markdown


def test_sources_list_numbers_match_the_answer(kb: rag.KnowledgeBase) -> None:
    answer = kb.ask(ENVOY, backend="extractive", k=K)
    assert "[1]" in answer.text and answer.citations
    out = sources_html(answer)
    assert re.findall(r'data-n="(\d+)"', out) == [str(c.n) for c in answer.citations]
    marked = re.findall(r"<mark>(.*?)</mark>", out)
    assert any("a posture and a pose" in html.unescape(m) for m in marked)
    assert answer.citations[0].hit.source not in out  # the server's absolute path: never
    assert "seeds/001_0a9e7fd5bd2f9d69.txt" in out  # relative to the working directory


def test_sources_show_cited_first_then_the_rest_folded(kb: rag.KnowledgeBase) -> None:
    answer = kb.ask(ENVOY, backend="extractive", k=K)
    out = sources_html(answer, "a3")
    cited, rest = out.split('<details class="rag-searched">')
    assert re.findall(r'id="rag-a3-(\d+)"', cited) == [str(c.n) for c in answer.citations]
    assert rest.count('class="rag-source"') == K - len(answer.citations)
    assert '<details class="rag-sources" open>' in cited  # cited: open; the rest: folded


def test_markers_link_to_their_cards_with_the_cited_sentence(kb: rag.KnowledgeBase) -> None:
    answer = kb.ask(ENVOY, backend="extractive", k=K)
    out = linked_markers(markdown_text(answer.text), answer, "a0")
    links = re.findall(r'<a class="rag-cite" href="#rag-a0-(\d+)" title="([^"]*)">\[\d+\]</a>', out)
    assert [n for n, _ in links] == [str(c.n) for c in answer.citations][: len(links)] and links
    assert "a posture and a pose" in html.unescape(links[0][1])
    assert "\\[9\\]" in linked_markers("x \\[9\\]", answer, "a0")  # a number citing nothing


def test_cards_show_date_and_a_relative_source_never_an_absolute_path() -> None:
    title = "A very long headline about drones that would not fit on one line of a card"
    hit = Hit("a:0", "a", title, "/srv/secret/seeds/001.txt", "Kyiv builds drones.", 0, 19, 1.0)
    answer = Answer(
        "Q?", "Kyiv builds drones [1].", [rag.types.Citation(1, hit)], False, [hit], "x"
    )
    out = sources_html(answer)
    assert "/srv/secret" not in out and "001.txt" in out and "date unknown" in out
    assert html.escape(title, quote=True) in out  # whole, never cut
    assert source_path(Hit("a:0", "a", "T", "seeds/1.txt", "x", 0, 1, 1.0)) == "seeds/1.txt"

    url = "https://news.example/a?b=1&c=<2>"
    dated = Hit("a:0", "a", "T", "/abs/x.txt", "x", 0, 1, 1.0, published="2025-03-02", url=url)
    assert dated.date == "2025-03-02" and source_path(dated) == url
    assert hit.date == "date unknown"


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("Drone strikes weaken Russia's army", 20) == "Drone strikes…"
    assert shorten("short", 20) == "short"


# --- one chat turn ----------------------------------------------------------------------


def test_respond_streams_then_shows_answer_with_sources(kb: rag.KnowledgeBase) -> None:
    states = run(kb, ENVOY)
    assert states[0][-1].display == SEARCHING
    final = last(states)
    expected = kb.ask(ENVOY, backend="extractive", k=K)
    assert final.ok and final.answer == expected.text
    assert html.unescape(re.sub(r"<a [^>]*>|</a>|\\", "", final.display)).startswith(expected.text)
    assert "rag-sources" in final.display and "a posture and a pose" in html.unescape(final.display)


def test_follow_up_is_answered_with_the_history(kb: rag.KnowledgeBase) -> None:
    first = last(run(kb, ENVOY))
    question, with_history = follow_up_needing_history(kb, ENVOY, first.answer)
    states = run(kb, question, [first])
    assert last(states).answer == with_history
    assert [t.question for t in states[-1]] == [ENVOY, question]


def test_abstention_says_the_articles_do_not_say(kb: rag.KnowledgeBase) -> None:
    final = last(run(kb, OUT_OF_CORPUS))
    assert final.ok and final.display.startswith(ABSTAINED)
    assert "rag-sources" not in final.display  # nothing cited...
    assert f"Passages searched ({K})" in final.display  # ...but what was searched is there


def test_a_refusal_shows_its_note_and_what_was_searched(kb: rag.KnowledgeBase) -> None:
    question = "What did Sweden's prime minister say about the coalition of the willing?"
    fresh = rag.load(kb.index_dir)  # its own answerers: "local" is a scripted one here
    llm = JudgedLLM("Fine [1].", 0.6)  # with a P("Yes"), as the local model has
    llm.name = "local"
    fresh.use_answerer(LLMAnswerer(llm, evidence_first=True, min_p_yes=0.45))
    final = last(run(fresh, question, backend="local"))
    assert final.ok and final.display.startswith(ABSTAINED)
    assert "No article mentions “Sweden”" in final.display
    searched = final.display[final.display.index("Passages searched") :]
    assert searched.count('class="rag-source"') == K and "coalition" in searched.lower()


def test_a_cut_off_refusal_still_says_it_was_cut_off() -> None:
    cut = Answer("Who?", "The articles do not say.", [], True, [], "openai", incomplete=True)
    display = answer_display(cut)
    assert display.startswith(ABSTAINED) and "cut off" in display


class _FailingAnswerer:
    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error = name, error

    def stream(self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
               ) -> Iterator[str]:  # fmt: skip
        raise self.error
        yield ""  # pragma: no cover - makes this a generator


def test_backend_error_is_shown_friendly_and_the_chat_goes_on(fresh_kb: rag.KnowledgeBase) -> None:
    down = BackendError("cannot reach the OpenAI-compatible server at http://127.0.0.1:9/v1")
    fresh_kb.use_answerer(_FailingAnswerer("openai", down))
    failed = last(run(fresh_kb, ENVOY, backend="openai"))
    assert not failed.ok and "cannot reach the OpenAI" in html.unescape(failed.display)
    assert "Traceback" not in failed.display
    states = run(fresh_kb, ENVOY, [failed], backend="extractive")
    assert last(states).ok and "a posture and a pose" in last(states).answer
    assert history(states[-1]) == [  # the failed turn stays on screen, out of the history
        {"role": "user", "content": ENVOY},
        {"role": "assistant", "content": last(states).answer},
    ]


def test_unexpected_error_is_logged_and_shown_as_one_line(
    fresh_kb: rag.KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_kb.use_answerer(_FailingAnswerer("openai", ZeroDivisionError("boom")))
    with caplog.at_level(logging.ERROR, logger=chat.__name__):
        failed = last(run(fresh_kb, ENVOY, backend="openai"))
    assert failed.display == BUG and not failed.ok
    assert "ZeroDivisionError" in caplog.text


class _SlowLoadingLLM(ScriptedLLM):
    name = "local"

    def __init__(self, reply: str, incomplete: bool = False) -> None:
        super().__init__(reply, incomplete)
        self.loaded, self.loads = False, 0

    def load(self) -> None:
        self.loads += 1
        self.loaded = True


def test_local_model_loading_note_shows_the_first_time_only(fresh_kb: rag.KnowledgeBase) -> None:
    reply = "The coalition was called a posture and a pose [1]."
    llm = _SlowLoadingLLM(reply)
    fresh_kb.use_answerer(LLMAnswerer(llm))
    displays = [s[-1].display for s in run(fresh_kb, ENVOY, backend="local")]
    assert displays[:2] == [SEARCHING, LOADING] and llm.loads == 1
    assert displays[-1].startswith(markdown_text(reply.split("[")[0]))
    again = [s[-1].display for s in run(fresh_kb, ENVOY, backend="local")]
    assert LOADING not in again and llm.loads == 1


def test_cut_off_answer_says_so(fresh_kb: rag.KnowledgeBase) -> None:
    fresh_kb.use_answerer(LLMAnswerer(_SlowLoadingLLM("A posture and a pose [1]", incomplete=True)))
    final = last(run(fresh_kb, ENVOY, backend="local"))
    assert "cut off" in final.display


def test_writing_shows_the_draft_and_the_seconds_and_stop_keeps_the_draft() -> None:
    assert (
        writing_display("The <b>coalition", 3.7)
        == f"{markdown_text('The <b>coalition')}\n\n_Writing… 3 s_"
    )
    draft = Turn("Q?", writing_display("Half an", 1), draft="Half an")
    done = Turn("Q?", "answer", "answer", ok=True)
    assert stopped([done, draft]) == [done, Turn("Q?", f"Half an\n\n{STOPPED}")]
    assert stopped([done]) == [done]  # Stop after the answer: nothing changes


def test_empty_question_changes_nothing(kb: rag.KnowledgeBase) -> None:
    assert run(kb, "   ") == []


def test_messages_escape_the_question() -> None:
    shown = messages([Turn("<img src=x onerror=alert(1)>?", "ok", "ok", True)])
    assert shown[0] == {"role": "user", "content": markdown_text("<img src=x onerror=alert(1)>?")}
    assert "<img" not in shown[0]["content"]


# --- one thread per answer -------------------------------------------------------------


def next_from_three_threads(items: Iterator[int], count: int) -> list[int]:
    """Call next() in turn from three live threads, as Gradio's worker pool may."""
    got: list[int] = []
    turn = threading.Condition()

    def worker(me: int) -> None:
        for _ in range(count // 3):
            with turn:
                turn.wait_for(lambda: len(got) % 3 == me)
                got.append(next(items))
                turn.notify_all()

    threads = [threading.Thread(target=worker, args=(me,)) for me in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return got


def test_in_thread_keeps_a_generator_on_one_thread_when_called_from_many() -> None:
    seen: list[int] = []

    def numbers() -> Iterator[int]:
        for i in range(6):
            seen.append(threading.get_ident())
            yield i

    assert next_from_three_threads(in_thread(numbers), 6) == list(range(6))
    assert len(set(seen)) == 1 and seen[0] != threading.get_ident()
    seen.clear()
    assert next_from_three_threads(numbers(), 6) == list(range(6))
    assert len(set(seen)) == 3  # what would happen without in_thread


def test_in_thread_runs_the_generator_to_its_end_without_waiting_for_the_reader() -> None:
    done = threading.Event()

    def answer() -> Iterator[int]:
        try:
            yield from range(3)
        finally:
            done.set()  # where a stream releases the local model's lock

    items = in_thread(answer)
    assert next(items) == 0
    assert done.wait(timeout=5)  # finished while the reader holds only the first item
    assert list(items) == [1, 2]


def test_in_thread_says_when_nothing_came_for_a_while() -> None:
    def slow() -> Iterator[int]:
        time.sleep(0.35)
        yield 1

    assert list(in_thread(slow, idle=0.1))[-3:] == [None, None, 1]


def test_respond_says_searching_then_writing_with_the_seconds(
    fresh_kb: rag.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = "The coalition was called a posture and a pose [1]."

    class Slow(ScriptedLLM):
        name = "local"

        def stream(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
            for word in super().stream(messages, **options):
                time.sleep(0.15)
                yield word

    fresh_kb.use_answerer(LLMAnswerer(Slow(reply)))
    monkeypatch.setattr(chat, "TICK", 0.05)
    displays = [s[-1].display for s in run(fresh_kb, ENVOY, backend="local")]
    assert displays[0] == SEARCHING
    writing = [d for d in displays if "Writing…" in d]
    assert writing and writing[-1].startswith(markdown_text("The coalition was"))
    assert len(writing) > len(reply.split())  # the clock also moves between two words
    assert "Writing…" not in displays[-1] and "rag-sources" in displays[-1]


class _Writer(ScriptedLLM):
    """Writes a long answer a word every ``pause`` seconds, after ``first`` seconds of
    silence; counts its words and says when its stream was closed (the model freed)."""

    name = "local"

    def __init__(self, pause: float = 0.02, first: float = 0.0) -> None:
        super().__init__(" ".join(["The coalition was called a posture and a pose [1]."] * 40))
        self.pause, self.first = pause, first
        self.words, self.closed = 0, threading.Event()

    def stream(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        try:
            time.sleep(self.first)
            for word in super().stream(messages, **options):
                time.sleep(self.pause)
                self.words += 1
                yield word
        finally:
            self.closed.set()


def test_stop_ends_the_answer_from_inside_keeps_its_draft_and_frees_the_model(
    fresh_kb: rag.KnowledgeBase,
) -> None:
    llm, halt = _Writer(), Halt()
    fresh_kb.use_answerer(LLMAnswerer(llm))
    shown: list[Turn] = []
    for turns in respond(fresh_kb, ENVOY, [], "local", K, halted=partial(halt.pressed_since, 0)):
        shown.append(turns[-1])
        if len([t for t in shown if t.draft]) == 5:
            halt.hear(1)  # the page has counted one press of Stop since this answer was asked
    assert llm.closed.wait(timeout=5)  # its stream is closed: the model is free
    words = llm.words
    time.sleep(0.2)
    assert llm.words == words < 400  # not one word more, and far from the end
    *writing, final = shown
    assert len(writing) >= 6 and all(not t.display.endswith(STOPPED) for t in writing)
    assert final.display.endswith(STOPPED) and not final.ok and final.answer == ""
    assert final.display.startswith(markdown_text(writing[-1].draft))  # the draft is kept


def test_stop_heard_while_the_model_is_silent_ends_the_answer_at_the_next_tick(
    fresh_kb: rag.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm, halt = _Writer(first=2.0), Halt()  # 2 s before its first word (prompt processing)
    fresh_kb.use_answerer(LLMAnswerer(llm))
    monkeypatch.setattr(chat, "TICK", 0.05)
    steps = respond(fresh_kb, ENVOY, [], "local", K, halted=partial(halt.pressed_since, 0))
    assert next(steps)[-1].display == SEARCHING
    halt.hear(1)
    started = time.monotonic()
    assert list(steps) == [[Turn(ENVOY, STOPPED)]]
    assert time.monotonic() - started < 1.0  # not after the model's first word
    assert llm.closed.wait(timeout=5) and llm.words == 1  # freed at its first word


def run_halted(kb: rag.KnowledgeBase, halted: Any) -> list[list[Turn]]:
    return list(respond(kb, ENVOY, [], "local", K, halted=halted))


def test_stop_before_an_answer_starts_asks_nothing_and_an_older_press_stops_nothing(
    fresh_kb: rag.KnowledgeBase,
) -> None:
    llm, halt = _Writer(pause=0.0), Halt()
    fresh_kb.use_answerer(LLMAnswerer(llm))
    halt.hear(2)  # pressed after the answer with ticket 1 was asked, while it waited
    assert run_halted(fresh_kb, partial(halt.pressed_since, 1)) == []
    assert llm.calls == []
    halt.hear(1)  # a press told late changes nothing: the count only grows
    final = last(run_halted(fresh_kb, partial(halt.pressed_since, 2)))
    assert final.ok and "rag-sources" in final.display  # pressed before it was asked
    assert llm.words == 400


def test_the_answer_event_cancels_nothing(kb: rag.KnowledgeBase) -> None:
    """Gradio's cancel (``cancels=``) of a running answer could leave an "Error" overlay over
    the whole chat, swallowing clicks (ui/stop.py): Stop must not use it."""
    from ui.app import build_app

    dependencies = build_app(kb, backend="extractive").get_config_file()["dependencies"]
    assert [d["cancels"] for d in dependencies if d["cancels"]] == []
    assert any(d["js"] == PRESS for d in dependencies)  # Stop is counted in the page


def test_in_thread_raises_the_errors_of_the_generator() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise BackendError("server down")

    items = in_thread(failing)
    assert next(items) == 1
    with pytest.raises(BackendError, match="server down"):
        next(items)


def test_in_thread_closes_the_generator_when_the_reader_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.set()  # where a stream releases the local model's lock

    items = in_thread(endless)
    assert next(items) == 1
    items.close()  # the browser tab went away
    assert closed.wait(timeout=5)


# --- example questions ------------------------------------------------------------------


def test_headline_parsing() -> None:
    assert headline_question("Is the 'coalition of the willing' going to work?") is not None
    assert headline_question("Long-range drone strikes weaken Russia") is None
    assert topic("'Not for long!': Donald Trump hits out at Zelenskyy again") == (
        "Donald Trump hits out at Zelenskyy again"
    )
    assert topic("Ukraine") is None


def test_examples_come_from_titles_and_are_answerable(kb: rag.KnowledgeBase) -> None:
    titles = [a["title"] for a in kb.articles()]
    examples = example_questions(kb)
    assert 1 <= len(examples) <= 4
    assert set(examples) <= set(candidates(kb))
    for question in examples:
        assert any(_shares_words(question, title) for title in titles), question
        assert not kb.ask(question, backend="extractive").abstained


def test_examples_are_short_questions_in_whole_words(kb: rag.KnowledgeBase) -> None:
    template = {"what", "do", "the", "articles", "say", "about", "why", "does"}
    titles = " ".join(str(a["title"]) for a in kb.articles()).lower()
    title_words = set(re.findall(r"[\w’'-]+", titles))
    for question in candidates(kb):
        assert question.endswith("?") and len(question.split()) <= 14, question
        for word in re.findall(r"[\w’'-]+", question.lower()):
            assert word in template or {word, word + "s", word + "es"} & title_words, (
                word,
                question,
            )
    assert as_question("Kyiv warns of more drone strikes on the") == (
        "Why does Kyiv warn of more drone strikes?"
    )


def _shares_words(question: str, title: str) -> bool:
    words = set(re.findall(r"\w{4,}", title.lower()))
    return len(words & set(re.findall(r"\w{4,}", question.lower()))) >= 2


# --- the app and its server -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_app(kb: rag.KnowledgeBase) -> Iterator[tuple[Any, str]]:
    from ui.app import build_app, launch

    demo = build_app(kb, backend="extractive")
    url = launch(demo, port=free_port(), block=False)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def live(live_app: tuple[Any, str]) -> str:
    return live_app[1]


def test_build_app_sets_queue_and_endpoints(kb: rag.KnowledgeBase) -> None:
    from ui.app import CONCURRENCY, build_app

    demo = build_app(kb, backend="extractive")
    assert demo._queue.default_concurrency_limit == CONCURRENCY
    assert list(demo.get_api_info()["named_endpoints"]) == ["/ask"]


def test_server_is_local_without_share_link_or_extra_paths(live_app: tuple[Any, str]) -> None:
    demo, url = live_app
    assert url.startswith("http://127.0.0.1:")
    assert (demo.share, demo.share_url, demo.allowed_paths) == (False, None, [])


def test_port_in_use_is_a_config_error(kb: rag.KnowledgeBase, live: str) -> None:
    from rag.errors import ConfigError
    from ui.app import build_app, launch

    port = int(live.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*--port"):
        launch(build_app(kb, backend="extractive"), port=port, block=False)


LOCAL_FILES = ["/etc/passwd", "../../../etc/passwd", "seeds/000_2dd91a298db4a255.txt",
               str(SEEDS / "000_2dd91a298db4a255.txt")]  # fmt: skip


@pytest.mark.parametrize("target", LOCAL_FILES)
def test_file_route_refuses_local_files(live: str, target: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live}gradio_api/file={target}", timeout=10)
    assert refused.value.code in (403, 404)


def test_gradio_client_ask_returns_the_answer_json(live: str, kb: rag.KnowledgeBase) -> None:
    from gradio_client import Client

    result = Client(live, verbose=False).predict(ENVOY, "extractive", K, api_name="/ask")
    expected = kb.ask(ENVOY, backend="extractive", k=K).to_dict()
    result.pop("timings"), expected.pop("timings")
    assert result == expected
    assert "a posture and a pose" in result["answer"] and result["citations"][0]["n"] == 1


def test_gradio_client_gets_errors_as_messages(live: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(live, verbose=False)
    with pytest.raises(AppError, match="question is empty"):
        client.predict("  ", "extractive", 5, api_name="/ask")
    with pytest.raises(AppError, match="unknown backend 'nope'"):
        client.predict(ENVOY, "nope", 5, api_name="/ask")


def test_several_clients_at_once_get_their_own_answers(live: str, kb: rag.KnowledgeBase) -> None:
    from gradio_client import Client

    questions = [ENVOY, OUT_OF_CORPUS, "How many long-range drones does Ukraine make?",
                 "What did Meloni say about the coalition?", "Who is Brigadier Yuriy Shchygol?",
                 "What is the population of Kabul?"]  # fmt: skip
    results: dict[str, dict[str, object]] = {}

    def ask(question: str) -> None:
        results[question] = Client(live, verbose=False).predict(question, "", K, api_name="/ask")

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results) == set(questions)
    for question, result in results.items():
        assert result["question"] == question
        assert result["answer"] == kb.ask(question, backend="extractive", k=K).text


def test_open_index_builds_from_seeds_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui import app

    real_build = rag.build
    monkeypatch.setattr(app.rag, "build", lambda seeds, index, progress, store: real_build(
        seeds, index, embedder="hash:64", progress=False, store=store))  # fmt: skip
    kb = app.open_index(tmp_path / "index", SEEDS)
    assert len(kb.articles()) == 5
    assert "indexing" in capsys.readouterr().err
    again = app.open_index(tmp_path / "index", tmp_path / "no-seeds-needed")
    assert len(again.articles()) == 5 and "indexing" not in capsys.readouterr().err


def test_serve_launches_on_loopback_with_the_backend(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import app

    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(app, "launch", lambda demo, host, port, block: calls.append(
        (demo, host, port, block)))  # fmt: skip
    app.serve(index_dir=index_dir, backend="extractive", port=7999)
    ((demo, host, port, block),) = calls
    assert (host, port, block) == ("127.0.0.1", 7999, True)
    assert demo.get_api_info()["named_endpoints"]["/ask"]


# --- bad input (issue 14) ------------------------------------------------------------------


def multipart(*files: tuple[str, bytes]) -> bytes:
    parts = [
        b'--XX\r\nContent-Disposition: form-data; name="files"; filename="' + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n"
        for name, data in files
    ]  # fmt: skip
    return b"".join(parts) + b"--XX--\r\n"


def post_upload(live: str, body: bytes) -> tuple[int, str]:
    """POST ``body`` to Gradio's upload route: (status, response text)."""
    headers = {"Content-Type": "multipart/form-data; boundary=XX"}
    request = urllib.request.Request(f"{live}gradio_api/upload", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_upload_route_takes_the_panels_files_and_serves_none_back(live: str) -> None:
    from rag.ingest.uploads import MAX_FILE_BYTES, MAX_FILES

    status, stored = post_upload(live, multipart(("note.html", b"<script>alert(1)</script>")))
    assert status == 200 and stored.endswith('note.html"]')  # Gradio's path: for the handler
    with pytest.raises(urllib.error.HTTPError) as refused:  # ... and nobody else
        urllib.request.urlopen(f"{live}gradio_api/file={stored[2:-2]}", timeout=10)
    assert refused.value.code == 403
    status, text = post_upload(live, multipart(("a.txt", b"ok"), ("tool.exe", b"MZ\x90")))
    assert (status, text) == (415, "unsupported type .exe: use .htm, .html, .md, .pdf, .txt")
    assert post_upload(live, multipart(("x", b"no extension")))[0] == 415
    many = multipart(*[(f"{i}.txt", b"text") for i in range(MAX_FILES + 1)])
    assert post_upload(live, many) == (415, f"too many files: at most {MAX_FILES} at once")
    one_too_big = multipart(("big.txt", b"x" * (MAX_FILE_BYTES + 1)))  # Gradio's own limit
    assert post_upload(live, one_too_big)[0] == 413
    assert claimed_length_refused(live) == (
        413,
        f"too large: at most {MAX_FILES} files of 5 MB each",
    )


def claimed_length_refused(live: str) -> tuple[int, str]:
    """A request announcing a body over the limits is answered before any of it is sent."""
    import http.client

    from ui.policy import LIMIT

    host, port = live.split("//")[1].rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/gradio_api/upload")
        connection.putheader("Content-Type", "multipart/form-data; boundary=XX")
        connection.putheader("Content-Length", str(LIMIT + 1))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("question", "k", "message"),
    [("x" * 2001, 5, "2,001 characters long"), (ENVOY, "abc", "k must be a whole number"),
     (ENVOY, None, "k must be a whole number"), (None, 5, "the question must be text")],
)  # fmt: skip
def test_a_user_error_logs_no_traceback(
    live: str, capfd: pytest.CaptureFixture[str], question: str, k: object, message: str
) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with pytest.raises(AppError, match=message):
        Client(live, verbose=False).predict(question, "extractive", k, api_name="/ask")
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [("127.0.0.1", 70000, "--port must be between 1 and 65535, got 70000"),
     ("127.0.0.1", -1, "got -1"), ("127.0.0.1", 0, "got 0"),
     ("256.1.1.1", 7860, "256.1.1.1:7860: not an address or host name"),
     ("192.0.2.1", 7860, "assign requested address")],  # not "Cannot find empty port"
)  # fmt: skip
def test_launch_refuses_a_bad_address_before_gradio(
    kb: rag.KnowledgeBase, host: str, port: int, message: str
) -> None:
    from rag.errors import ConfigError
    from ui.app import build_app, launch

    with pytest.raises(ConfigError) as refused:
        launch(build_app(kb, backend="extractive"), host, port, block=False)
    assert message in str(refused.value) and "empty port" not in str(refused.value)
