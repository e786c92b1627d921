"""Broken OpenAI-compatible servers end in a clear error or an answer marked incomplete.

Never in a refusal ("The articles do not say.") and never in a traceback. Each fault of
tests/openai_faults.py is played by the loopback server and checked at every layer a
user meets: the backend alone, ``kb.ask``/``kb.stream`` over the hash index, ``rag ask``
in a subprocess, and the chat turn of the web UI.
"""

from __future__ import annotations

import re
import time

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.answer.prompt import REFUSAL
from rag.cli import main
from rag.errors import BackendError, IncompleteResponse
from rag.llm.base import Message
from rag.llm.openai_backend import OpenAILLM
from rag.types import Answer
from ui.chat import ABSTAINED, Turn, respond

from fake_openai_server import FakeOpenAIServer, Reply, Slow
from openai_faults import FAULTS, PORTAL, Body, Dribble, Fault, chat_text, make_llm, rag_ask

QUESTION = "What did Trump's special envoy call the coalition of the willing?"
PROMPT = [Message("user", QUESTION)]
CUT_NOTE = "The answer was cut off"


def drain(llm: OpenAILLM, pieces: list[str]) -> None:
    for piece in llm.stream(PROMPT):
        pieces.append(piece)


def kb_over(kb: rag.KnowledgeBase, llm: OpenAILLM) -> rag.KnowledgeBase:
    kb.use_answerer(LLMAnswerer(llm))
    return kb


def chat_turn(kb: rag.KnowledgeBase) -> Turn:
    """What the chat shows once the turn is over."""
    return list(respond(kb, QUESTION, [], "openai", 5))[-1][-1]


# --- every fault, at every layer ---------------------------------------------------------


@pytest.fixture(params=list(FAULTS))
def fault(request: pytest.FixtureRequest, openai_server: FakeOpenAIServer) -> Fault:
    """Each fault in turn, played by the loopback server."""
    openai_server.script = FAULTS[request.param].script
    return FAULTS[request.param]


@pytest.fixture
def faulty_kb(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer, fault: Fault
) -> rag.KnowledgeBase:
    """A knowledge base over the hash index whose openai backend asks the faulty server."""
    return kb_over(own_hash_kb, make_llm(openai_server))


def test_backend_raises_a_clear_error_or_incomplete(
    openai_server: FakeOpenAIServer, fault: Fault
) -> None:
    pieces: list[str] = []
    with pytest.raises(BackendError) as caught:
        drain(make_llm(openai_server), pieces)
    message = str(caught.value)
    assert openai_server.base_url in message and "\n" not in message
    if fault.outcome == "error":
        assert type(caught.value) is BackendError and re.search(fault.message, message)
    else:
        assert isinstance(caught.value, IncompleteResponse)
        assert caught.value.partial == "".join(pieces) != ""


def test_kb_ask_never_turns_a_fault_into_a_refusal(
    faulty_kb: rag.KnowledgeBase, fault: Fault
) -> None:
    if fault.outcome == "error":
        with pytest.raises(BackendError, match=fault.message):
            faulty_kb.ask(QUESTION, backend="openai")
        return
    answer = faulty_kb.ask(QUESTION, backend="openai")
    assert answer.incomplete and not answer.abstained and answer.text != REFUSAL


def test_chat_shows_the_error_or_the_cut_off_note(
    faulty_kb: rag.KnowledgeBase, fault: Fault
) -> None:
    turn = chat_turn(faulty_kb)
    shown = chat_text(turn.display)
    assert ABSTAINED not in turn.display and "Traceback" not in shown
    if fault.outcome == "error":
        assert not turn.ok and shown.startswith("⚠️") and re.search(fault.message, shown)
    else:
        assert turn.ok and CUT_NOTE in shown


# --- the `rag ask` command ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["html-200", "only-done", "cut-json-200", "choices-not-a-list", "dropped-mid-stream"]
)
def test_cli_exits_with_one_line_error_or_prints_the_cut_off_note(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer, name: str
) -> None:
    fault = FAULTS[name]
    openai_server.script = fault.script
    done = rag_ask(own_hash_kb.index_dir, QUESTION, openai_server.base_url)
    assert "Traceback" not in done.stderr and REFUSAL not in done.stdout
    if fault.outcome == "error":
        assert done.returncode == 2, done.stdout
        [line] = done.stderr.splitlines()
        assert line.startswith("rag: error: ") and re.search(fault.message, line)
    else:
        assert done.returncode == 0, done.stderr
        assert "(the answer is incomplete" in done.stdout


# --- item 6: what a captive portal gets --------------------------------------------------


def test_an_html_page_is_named_by_its_title(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Body(PORTAL)
    with pytest.raises(BackendError) as caught:
        list(make_llm(openai_server).stream(PROMPT))
    assert "HTML page titled 'Hotel Wi-Fi: log in'" in str(caught.value)
    assert "captive portal" in str(caught.value)


# --- item 8: the deadline and the token cap ----------------------------------------------


def test_tokens_dribbled_past_the_deadline_end_incomplete(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Dribble(interval=0.25)
    pieces: list[str] = []
    start = time.monotonic()
    with pytest.raises(IncompleteResponse, match=r"at the 1 s deadline") as caught:
        drain(make_llm(openai_server, deadline=1.0, timeout=3.0), pieces)
    assert time.monotonic() - start < 2.0  # each piece came within the 3 s read timeout
    assert "RAG_OPENAI_DEADLINE" in str(caught.value)
    assert caught.value.partial == "".join(pieces) and len(pieces) >= 2


def test_a_silent_server_is_held_to_the_deadline_too(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Slow(delay=5.0)
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"within the 0\.5 s deadline \(RAG_OPENAI_DEADLINE"):
        list(make_llm(openai_server, deadline=0.5, timeout=30.0).stream(PROMPT))
    assert time.monotonic() - start < 2.5


def test_a_reply_past_the_token_cap_ends_incomplete(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Reply("ab" * 40, chunks=40)  # a server that ignores max_tokens
    llm = make_llm(openai_server, token_cap=10)
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match=r"more than the 10 chunks.*TOKEN_CAP") as caught:
        drain(llm, pieces)
    assert len(pieces) == 10 == llm.last_usage["chunks"]
    assert caught.value.partial == "ab" * 10


def test_a_reply_of_exactly_the_token_cap_is_whole(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Reply("ab" * 10, chunks=10)
    assert "".join(make_llm(openai_server, token_cap=10).stream(PROMPT)) == "ab" * 10


def test_kb_stream_past_the_deadline_gives_an_incomplete_answer(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script = Dribble(interval=0.2, piece="a posture ")
    kb = kb_over(own_hash_kb, make_llm(openai_server, deadline=0.8, timeout=3.0))
    *pieces, final = list(kb.stream(QUESTION, backend="openai"))
    assert isinstance(final, Answer) and final.incomplete and not final.abstained
    assert pieces and "a posture" in final.text


def test_chat_past_the_deadline_shows_the_cut_off_note(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script = Dribble(interval=0.2, piece="a posture ")
    turn = chat_turn(kb_over(own_hash_kb, make_llm(openai_server, deadline=0.8, timeout=3.0)))
    assert turn.ok and "a posture" in turn.answer and CUT_NOTE in turn.display


def test_cli_past_the_deadline_prints_what_came_and_the_note(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script = Dribble(interval=0.2, piece="a posture ")
    done = rag_ask(
        own_hash_kb.index_dir, QUESTION, openai_server.base_url, deadline="1.5", timeout="3"
    )
    assert done.returncode == 0, done.stderr
    assert "a posture" in done.stdout and "(the answer is incomplete" in done.stdout


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_help_names_the_deadline_and_the_token_cap(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = capsys.readouterr().out
    assert "RAG_OPENAI_DEADLINE (300:" in shown and "RAG_OPENAI_TOKEN_CAP (2048:" in shown
