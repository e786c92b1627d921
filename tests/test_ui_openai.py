"""The chat's "OpenAI-compatible server" panel: settings -> answerer, errors, no key leaks."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.errors import BackendError, ConfigError
from rag.llm.base import Message
from rag.llm.openai_backend import OpenAILLM
from rag.llm.scripted import ScriptedLLM
from ui.chat import RETRY, Turn
from ui.openai_panel import NOT_CONFIGURED, SessionServer, panel_config

from fake_openai_server import FakeOpenAIServer, Reply

ENVOY = "What did Trump's special envoy call the coalition of the willing?"
K = 10
KEY = "sk-panel-secret-4242"
CITED = "The coalition was called a posture and a pose [1]."


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAG_OPENAI_BASE_URL", "RAG_OPENAI_MODEL", "RAG_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def answer(kb: rag.KnowledgeBase, server: SessionServer, *panel: str) -> list[Turn]:
    """The last conversation the app's answer handler yields for ENVOY on ``openai``."""
    from ui.app import _answer_handler

    steps = list(_answer_handler(kb)(ENVOY, [], "openai", K, server, *panel))
    return steps[-1][1]


def test_an_empty_panel_means_the_servers_own_settings(no_env: None) -> None:
    assert panel_config("", "  ", "") is None
    assert SessionServer().answerer_for("", "", "") is None


def test_panel_settings_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", "http://env.example/v1")
    monkeypatch.setenv("RAG_OPENAI_MODEL", "env-model")
    config = panel_config(" http://127.0.0.1:9/v1 ", "", KEY)
    assert config is not None
    assert (config.base_url, config.model, config.api_key) == ("http://127.0.0.1:9/v1",
                                                               "env-model", KEY)  # fmt: skip
    assert KEY not in repr(config)


def test_one_answerer_per_session_and_settings(no_env: None) -> None:
    session = SessionServer()
    first = session.answerer_for("http://127.0.0.1:9/v1", "toy", KEY)
    assert isinstance(first, LLMAnswerer) and isinstance(first.llm, OpenAILLM)
    assert session.answerer_for("http://127.0.0.1:9/v1", "toy", KEY) is first
    assert session.answerer_for("http://127.0.0.1:9/v1", "other", KEY) is not first
    assert KEY not in repr(session)


@pytest.mark.parametrize("url", ["localhost:11434/v1", "ftp://me:pw@host/v1", "http://", "x"])
def test_a_bad_base_url_names_the_field(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^Base URL \(OpenAI-compatible server") as caught:
        SessionServer().answerer_for(url, "toy", KEY)
    assert "\n" not in str(caught.value) and "pw" not in str(caught.value)
    assert KEY not in str(caught.value)


def test_a_bad_base_url_is_a_friendly_chat_error(own_hash_kb: rag.KnowledgeBase) -> None:
    last = answer(own_hash_kb, SessionServer(), "localhost:8080", "toy", "")[-1]
    assert "Base URL" in last.display and RETRY in last.display and not last.ok


def test_nothing_configured_says_what_to_set(own_hash_kb: rag.KnowledgeBase, no_env: None) -> None:
    def down(_: Sequence[Message]) -> str:
        raise BackendError("cannot reach the OpenAI-compatible server at https://api.openai.com/v1")

    llm = ScriptedLLM(down)
    llm.name = "openai"  # stands in for the env-configured openai backend
    own_hash_kb.use_answerer(LLMAnswerer(llm))
    shown = answer(own_hash_kb, SessionServer(), "", "", "")[-1].display
    assert "cannot reach" in shown and NOT_CONFIGURED in shown
    assert "RAG_OPENAI_BASE_URL" in shown and "OpenAI-compatible server" in shown


def test_configured_errors_need_no_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert SessionServer().hint("", "", "") == ""
    monkeypatch.delenv("RAG_OPENAI_BASE_URL")
    monkeypatch.delenv("RAG_OPENAI_MODEL", raising=False)
    assert SessionServer().hint("http://127.0.0.1:9/v1", "", "") == ""
    assert SessionServer().hint("", "", "") == NOT_CONFIGURED


def test_the_panels_server_answers_and_the_key_leaks_nowhere(
    own_hash_kb: rag.KnowledgeBase,
    openai_server: FakeOpenAIServer,
    no_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_server.script = Reply(CITED)
    session = SessionServer()
    with caplog.at_level(logging.DEBUG):
        turns = answer(own_hash_kb, session, openai_server.base_url, "toy", KEY)
        again = answer(own_hash_kb, session, openai_server.base_url, "toy", KEY)
    assert turns[-1].ok and turns[-1].answer == CITED and again[-1].answer == CITED
    assert "rag-sources" in turns[-1].display
    assert [r.body["model"] for r in openai_server.requests] == ["toy", "toy"]
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert caplog.records  # the openai and httpx libraries did log, without the key
    assert KEY not in caplog.text and all(KEY not in t.display for t in turns)
