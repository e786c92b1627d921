"""The LLM role's contract (rag.llm.base.LLM): every chat model passes the same tests.

:class:`LLMContract` holds them; each backend subclasses it and gives its fixtures:
``llm`` (one that answers :data:`QUESTION` naming Paris), ``cut_off`` (a stream of a
reply that ends before it is done) and ``failing`` (a stream that fails, with a pattern
its message must match). The fakes and the openai backend on loopback run in the fast
suite; the real local model is ``slow``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from rag.errors import BackendError, ConfigError, IncompleteResponse
from rag.llm.base import LLM, Message
from rag.llm.local import LocalLLM
from rag.llm.openai_backend import OpenAIConfig, OpenAILLM
from rag.llm.scripted import JudgedLLM, ScriptedLLM

from fake_openai_server import FakeOpenAIServer, HttpError, Respond, Truncated

QUESTION = [Message("user", "Reply with one word: the capital of France.")]
Stream = Callable[[], Iterator[str]]


def capital(messages: Sequence[Message | dict[str, str]]) -> str:
    """A stand-in model that reads the question: it must have arrived whole."""
    last = messages[-1]
    asked = last.content if isinstance(last, Message) else last["content"]
    return "The capital is Paris." if "capital of France" in asked else "Pardon?"


class LLMContract:
    """What every :class:`rag.llm.base.LLM` must do (not collected itself: no ``Test``)."""

    def test_has_a_name(self, llm: LLM) -> None:
        assert isinstance(llm.name, str) and llm.name

    def test_streams_the_reply_in_text_pieces(self, llm: LLM) -> None:
        pieces = list(llm.stream(QUESTION, max_tokens=8))
        assert pieces and all(isinstance(p, str) for p in pieces)
        assert "paris" in "".join(pieces).lower()

    def test_greedy_decoding_gives_the_same_reply_twice(self, llm: LLM) -> None:
        first = "".join(llm.stream(QUESTION, max_tokens=8, temperature=0.0))
        assert first == "".join(llm.stream(QUESTION, max_tokens=8, temperature=0.0))

    def test_an_abandoned_stream_does_not_block_the_next(self, llm: LLM) -> None:
        first = llm.stream(QUESTION, max_tokens=8)
        next(first)
        first.close()  # what a closed browser tab does (releases the local model's lock)
        assert "paris" in "".join(llm.stream(QUESTION, max_tokens=8)).lower()

    def test_max_tokens_below_one_is_refused(self, llm: LLM) -> None:
        with pytest.raises(ConfigError, match="max_tokens"):
            list(llm.stream(QUESTION, max_tokens=0))

    def test_a_cut_off_reply_raises_incomplete_after_yielding_it(self, cut_off: Stream) -> None:
        pieces: list[str] = []
        with pytest.raises(IncompleteResponse) as info:
            for piece in cut_off():
                pieces.append(piece)
        assert pieces and info.value.partial == "".join(pieces)

    def test_a_failure_is_one_clear_backend_error(self, failing: tuple[Stream, str]) -> None:
        stream, pattern = failing
        with pytest.raises(BackendError, match=pattern) as info:
            list(stream())
        assert "\n" not in str(info.value)


class TestScriptedLLM(LLMContract):
    @pytest.fixture
    def llm(self) -> LLM:
        return ScriptedLLM(capital)

    @pytest.fixture
    def cut_off(self) -> Stream:
        return lambda: ScriptedLLM(capital, incomplete=True).stream(QUESTION)

    test_a_failure_is_one_clear_backend_error = None  # type: ignore[assignment]  # it cannot fail


class TestJudgedLLM(TestScriptedLLM):
    @pytest.fixture
    def llm(self) -> LLM:
        return JudgedLLM("The capital is Paris.", p=0.9)


class TestOpenAILLM(LLMContract):
    """The openai backend against the loopback server, which answers with :func:`capital`."""

    @staticmethod
    def make(server: FakeOpenAIServer) -> OpenAILLM:
        return OpenAILLM(OpenAIConfig(base_url=server.base_url, model="toy", max_retries=0))

    @pytest.fixture
    def llm(self, openai_server: FakeOpenAIServer) -> LLM:
        openai_server.script = Respond(capital)
        return self.make(openai_server)

    @pytest.fixture
    def cut_off(self, openai_server: FakeOpenAIServer) -> Stream:
        openai_server.script = Truncated("The capital is Par")
        return lambda: self.make(openai_server).stream(QUESTION)

    @pytest.fixture
    def failing(self, openai_server: FakeOpenAIServer) -> tuple[Stream, str]:
        openai_server.script = HttpError(500, "model crashed")
        return (lambda: self.make(openai_server).stream(QUESTION)), r"500.*model crashed"


@pytest.mark.slow
class TestLocalLLM(LLMContract):
    """The bundled GGUF model through llama.cpp, loaded once per session."""

    @pytest.fixture
    def llm(self, local_llm: LocalLLM) -> LLM:
        return local_llm

    @pytest.fixture
    def cut_off(self, local_llm: LocalLLM) -> Stream:
        count = [Message("user", "Count from 1 to 100.")]
        return lambda: local_llm.stream(count, max_tokens=4)

    @pytest.fixture
    def failing(self, local_llm: LocalLLM) -> tuple[Stream, str]:
        too_long = [Message("user", "news " * (local_llm.n_ctx + 500))]
        pattern = rf"prompt is \d+ tokens .* context window is {local_llm.n_ctx}"
        return (lambda: local_llm.stream(too_long, max_tokens=4)), pattern
