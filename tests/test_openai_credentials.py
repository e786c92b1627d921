"""Credentials in RAG_OPENAI_BASE_URL (``http://user:password@host/v1``) stay secret.

They still reach the server (as basic auth, as before), but no error message, log line
or repr shows them: not the backend's errors, not the chat's, not ``rag -v ask``'s.
"""

from __future__ import annotations

import logging
import socket

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.errors import BackendError, ConfigError
from rag.llm.base import Message
from rag.llm.openai_backend import OpenAIConfig, OpenAILLM
from ui.chat import respond

from fake_openai_server import FakeOpenAIServer, HttpError, Reply
from openai_faults import PORTAL, Body, chat_text, make_llm, rag_ask

SECRET = "s3cret-pw"
PROMPT = [Message("user", "Who won?")]
QUESTION = "What did Trump's special envoy call the coalition of the willing?"


def with_credentials(url: str, user: str = "alice") -> str:
    return url.replace("http://", f"http://{user}:{SECRET}@")


def hidden(url: str) -> str:
    return url.replace("http://", "http://***@")


def failure(llm: OpenAILLM) -> str:
    with pytest.raises(BackendError) as caught:
        list(llm.stream(PROMPT))
    return str(caught.value)


@pytest.mark.parametrize("script", [HttpError(500, "model crashed"), Body(PORTAL)])
def test_backend_errors_show_the_url_without_credentials(
    openai_server: FakeOpenAIServer, script: HttpError | Body
) -> None:
    openai_server.script = script
    message = failure(make_llm(openai_server, base_url=with_credentials(openai_server.base_url)))
    assert hidden(openai_server.base_url) in message
    assert SECRET not in message and "alice" not in message


def test_server_down_error_hides_a_token_given_as_user_name() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://tok-{SECRET}@127.0.0.1:{port}/v1"
    message = failure(OpenAILLM(OpenAIConfig(base_url=url, max_retries=0, timeout=2.0)))
    assert message.startswith(f"cannot reach the OpenAI-compatible server at {hidden(url[:7])}")
    assert SECRET not in message


def test_the_server_still_gets_them_as_basic_auth(openai_server: FakeOpenAIServer) -> None:
    url = with_credentials(openai_server.base_url).replace(SECRET, "pa%40ss")  # "pa@ss", quoted
    openai_server.script = Reply("fine")
    assert "".join(make_llm(openai_server, base_url=url).stream(PROMPT)) == "fine"
    [request] = openai_server.requests
    assert request.headers["authorization"] == "Basic YWxpY2U6cGFAc3M="  # alice:pa@ss
    assert request.path == "/v1/chat/completions"


def test_no_log_line_shows_them(
    openai_server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm = make_llm(openai_server, base_url=with_credentials(openai_server.base_url))
    with caplog.at_level(logging.DEBUG):
        list(llm.stream(PROMPT))
        openai_server.script = HttpError(500, "model crashed")
        failure(llm)
    assert f"{openai_server.base_url}/chat/completions" in caplog.text  # the libraries log URLs
    assert SECRET not in caplog.text


def test_config_errors_and_repr_hide_them() -> None:
    with pytest.raises(ConfigError) as caught:
        OpenAIConfig(base_url=f"ftp://alice:{SECRET}@host/v1")
    assert "'ftp://***@host/v1'" in str(caught.value) and SECRET not in str(caught.value)
    config = OpenAIConfig(base_url=with_credentials("http://host/v1"), api_key="sk-key")
    assert SECRET not in repr(config) and "sk-key" not in repr(config)


def test_the_chat_shows_the_error_without_them(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script = HttpError(503, "overloaded")
    llm = make_llm(openai_server, base_url=with_credentials(openai_server.base_url))
    own_hash_kb.use_answerer(LLMAnswerer(llm))
    turn = list(respond(own_hash_kb, QUESTION, [], "openai", 5))[-1][-1]
    shown = chat_text(turn.display)
    assert not turn.ok and "HTTP 503" in shown and hidden(openai_server.base_url) in shown
    assert SECRET not in shown


def test_rag_ask_verbose_shows_them_nowhere(
    own_hash_kb: rag.KnowledgeBase, openai_server: FakeOpenAIServer
) -> None:
    openai_server.script = HttpError(500, "model crashed")
    url = with_credentials(openai_server.base_url)
    done = rag_ask(own_hash_kb.index_dir, QUESTION, url, "-v")
    assert done.returncode == 2
    assert f"rag: error: the OpenAI-compatible server at {hidden(openai_server.base_url)}" in (
        done.stderr
    )
    assert "HTTP Request: POST" in done.stderr  # -v logs the request line, without them
    assert SECRET not in done.stderr + done.stdout and "Traceback" not in done.stderr
