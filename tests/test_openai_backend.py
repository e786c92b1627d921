"""The openai backend against a real HTTP server on loopback (tests/fake_openai_server.py)."""

from __future__ import annotations

import socket
import time

import pytest

from rag.errors import BackendError, ConfigError, IncompleteResponse
from rag.llm.base import LLM, Message
from rag.llm.openai_backend import OpenAIConfig, OpenAILLM

from fake_openai_server import (
    Echo,
    FakeOpenAIServer,
    HttpError,
    Malformed,
    Reply,
    Slow,
    Truncated,
)

QUESTION = [Message("system", "Answer briefly."), Message("user", "Who won the match?")]


def make_llm(server: FakeOpenAIServer, **settings: object) -> OpenAILLM:
    settings = {"max_retries": 0, "timeout": 5.0, **settings}
    return OpenAILLM(OpenAIConfig(base_url=server.base_url, **settings))  # type: ignore[arg-type]


def collect(llm: OpenAILLM, pieces: list[str], **kwargs: object) -> None:
    """Drain the stream into ``pieces`` so a test can see what came before an error."""
    for piece in llm.stream(QUESTION, **kwargs):  # type: ignore[arg-type]
        pieces.append(piece)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- happy paths -------------------------------------------------------------------------


def test_streams_the_reply_in_pieces(openai_server: FakeOpenAIServer) -> None:
    text = "Arsenal won two-nil at home on Saturday."
    openai_server.script = Reply(text, chunks=4)
    llm = make_llm(openai_server)
    pieces = list(llm.stream(QUESTION))
    assert "".join(pieces) == text
    assert len(pieces) == 4 and all(pieces)  # the role-only first chunk yields nothing
    assert llm.last_usage["chunks"] == 4
    assert llm.last_usage["completion_tokens"] == 4  # the fake counts one token per chunk


def test_sends_model_settings_and_messages(openai_server: FakeOpenAIServer) -> None:
    llm = make_llm(openai_server, model="llama3.2")
    list(llm.stream(QUESTION, max_tokens=77, temperature=0.3))
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer not-needed"
    body = request.body
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("llama3.2", 77, 0.3)
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Who won the match?"},
    ]


def test_sends_the_configured_api_key(openai_server: FakeOpenAIServer) -> None:
    list(make_llm(openai_server, api_key="sk-test-123").stream(QUESTION))
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-test-123"


def test_echo_proves_the_user_message_arrived(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Echo()
    assert "".join(make_llm(openai_server).stream(QUESTION)) == "Who won the match?"


def test_yields_pieces_before_the_stream_ends(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Slow(delay=0.6, text="first then the rest", after_chunks=1)
    stream = make_llm(openai_server).stream(QUESTION)
    start = time.monotonic()
    first = next(stream)
    assert time.monotonic() - start < 0.5  # not held back until the server is done
    assert first + "".join(stream) == "first then the rest"


def test_satisfies_the_llm_protocol_and_creates_no_client_up_front() -> None:
    llm: LLM = OpenAILLM(OpenAIConfig(base_url=f"http://127.0.0.1:{free_port()}/v1"))
    assert llm.name == "openai"
    assert llm._client is None  # type: ignore[attr-defined]


# --- failures ----------------------------------------------------------------------------


def test_server_down_names_the_url(openai_server: FakeOpenAIServer) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAILLM(OpenAIConfig(base_url=base_url, max_retries=0, timeout=2.0))
    with pytest.raises(BackendError) as caught:
        list(llm.stream(QUESTION))
    message = str(caught.value)
    assert message.startswith(f"cannot reach the OpenAI-compatible server at {base_url}: ")
    assert "refused" in message.lower()
    assert "\n" not in message


@pytest.mark.parametrize(
    ("status", "server_message", "hint"),
    [
        (500, "CUDA out of memory", ""),
        (400, "max_tokens is too large", ""),
        (401, "Incorrect API key provided", "API key"),
        (404, "model 'nope' not found", "'nope'"),
    ],
)
def test_http_errors_show_status_message_and_hint(
    openai_server: FakeOpenAIServer, status: int, server_message: str, hint: str
) -> None:
    openai_server.script = HttpError(status, server_message)
    with pytest.raises(BackendError) as caught:
        list(make_llm(openai_server, model="nope").stream(QUESTION))
    message = str(caught.value)
    assert type(caught.value) is BackendError
    assert openai_server.base_url in message
    assert f"HTTP {status}: {server_message}" in message
    assert hint in message and "\n" not in message


@pytest.mark.parametrize("retries", [0, 1])
def test_max_retries_is_honoured(openai_server: FakeOpenAIServer, retries: int) -> None:
    openai_server.script = HttpError(503, "overloaded")
    with pytest.raises(BackendError, match="HTTP 503"):
        list(make_llm(openai_server, max_retries=retries).stream(QUESTION))
    assert len(openai_server.requests) == 1 + retries


def test_timeout_names_the_seconds(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Slow(delay=3.0)
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"within the 0\.5 s timeout") as caught:
        list(make_llm(openai_server, timeout=0.5).stream(QUESTION))
    assert time.monotonic() - start < 2.5
    assert openai_server.base_url in str(caught.value)


def test_stall_mid_stream_keeps_the_partial_text(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Slow(delay=3.0, text="abcdefghi", after_chunks=2)
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match=r"silent for more than the 0\.5 s") as caught:
        collect(make_llm(openai_server, timeout=0.5), pieces)
    assert caught.value.partial == "".join(pieces) == "abcdef"


def test_malformed_chunk_is_a_backend_error(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Malformed(text="abcdefghi", good_chunks=1)
    pieces: list[str] = []
    with pytest.raises(BackendError, match="malformed stream chunk") as caught:
        collect(make_llm(openai_server), pieces)
    assert pieces == ["abc"]
    assert openai_server.base_url in str(caught.value)
    assert "\n" not in str(caught.value)


def test_stream_without_finish_reason_is_incomplete(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Truncated(text="The answer is forty")
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match="without a finish_reason") as caught:
        collect(make_llm(openai_server), pieces)
    assert caught.value.partial == "".join(pieces) == "The answer is forty"


def test_connection_dropped_mid_body_is_incomplete(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Truncated(text="The answer is forty", chunked=True)
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match="dropped the connection") as caught:
        collect(make_llm(openai_server), pieces)
    assert caught.value.partial == "".join(pieces)
    assert "The answer is forty".startswith(caught.value.partial)
    assert openai_server.base_url in str(caught.value)


def test_finish_reason_length_is_incomplete(openai_server: FakeOpenAIServer) -> None:
    openai_server.script = Reply("It was a long and winding", finish_reason="length")
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match=r"max_tokens limit \(5\)") as caught:
        collect(make_llm(openai_server), pieces, max_tokens=5)
    assert caught.value.partial == "".join(pieces) == "It was a long and winding"


def test_rejects_max_tokens_below_one(openai_server: FakeOpenAIServer) -> None:
    with pytest.raises(ConfigError, match="got 0"):
        list(make_llm(openai_server).stream(QUESTION, max_tokens=0))
    assert openai_server.requests == []


# --- the fake server itself (non-stream answers) -----------------------------------------


def test_fake_server_answers_non_stream_requests(openai_server: FakeOpenAIServer) -> None:
    import openai

    openai_server.script = Echo()
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="x", max_retries=0)
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "ping"}], stream=False
    )
    assert reply.choices[0].message.content == "ping"
    assert reply.choices[0].finish_reason == "stop"


# --- configuration -----------------------------------------------------------------------

ENV_NAMES = [
    "RAG_OPENAI_BASE_URL",
    "RAG_OPENAI_MODEL",
    "RAG_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "RAG_OPENAI_TIMEOUT",
    "RAG_OPENAI_RETRIES",
    "RAG_OPENAI_DEADLINE",
    "RAG_OPENAI_TOKEN_CAP",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_from_env_defaults(clean_env: pytest.MonkeyPatch) -> None:
    assert OpenAIConfig.from_env() == OpenAIConfig()


def test_from_env_reads_every_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RAG_OPENAI_BASE_URL", "http://localhost:11434/v1")
    clean_env.setenv("RAG_OPENAI_MODEL", "llama3.2")
    clean_env.setenv("RAG_OPENAI_API_KEY", "sk-rag")
    clean_env.setenv("OPENAI_API_KEY", "sk-generic")
    clean_env.setenv("RAG_OPENAI_TIMEOUT", "2.5")
    clean_env.setenv("RAG_OPENAI_RETRIES", "3")
    clean_env.setenv("RAG_OPENAI_DEADLINE", "90")
    clean_env.setenv("RAG_OPENAI_TOKEN_CAP", "500")
    config = OpenAIConfig.from_env()
    expected = OpenAIConfig("http://localhost:11434/v1", "llama3.2", "sk-rag", 2.5, 3, 90.0, 500)
    assert config == expected


def test_from_env_falls_back_to_openai_api_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_API_KEY", "sk-generic")
    assert OpenAIConfig.from_env().api_key == "sk-generic"


def test_from_env_overrides_win_unless_none(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RAG_OPENAI_MODEL", "from-env")
    clean_env.setenv("RAG_OPENAI_TIMEOUT", "9")
    config = OpenAIConfig.from_env(model="from-override", timeout=None)
    assert (config.model, config.timeout) == ("from-override", 9.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RAG_OPENAI_TIMEOUT", "soon"),
        ("RAG_OPENAI_RETRIES", "1.5"),
        ("RAG_OPENAI_DEADLINE", "never"),
        ("RAG_OPENAI_TOKEN_CAP", "lots"),
    ],
)
def test_from_env_bad_numbers_name_variable_and_value(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"{variable}='{value}'"):
        OpenAIConfig.from_env()


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"base_url": "localhost:11434"}, "'localhost:11434'"),
        ({"timeout": 0}, "timeout 0"),
        ({"max_retries": -1}, "max_retries -1"),
        ({"deadline": 0}, "deadline 0"),
        ({"token_cap": 0}, "token_cap 0"),
        ({"modle": "x"}, "['modle']"),
    ],
)
def test_from_env_rejects_bad_settings(
    clean_env: pytest.MonkeyPatch, settings: dict[str, object], shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        OpenAIConfig.from_env(**settings)
    assert shown in str(caught.value)
