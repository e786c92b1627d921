"""One contract for every answer backend: grounded, cited answers; plain refusals; clean errors.

Backends: a scripted LLM and the openai backend against a loopback server (both
driven by the same toy reader, so the whole prompt -> model -> citation path is
exercised), the extractive answerer, and the real local model (slow).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence

import pytest

import rag
from rag.answer.answerers import Answerer, LLMAnswerer
from rag.answer.backends import LOCAL_MIN_P_YES
from rag.answer.extractive import ExtractiveAnswerer
from rag.errors import BackendError
from rag.llm.base import Message
from rag.llm.local import LocalLLM
from rag.llm.openai_backend import OpenAIConfig, OpenAILLM
from rag.llm.scripted import ScriptedLLM
from rag.text.refusals import REFUSAL
from rag.text.words import terms

from fake_openai_server import FakeOpenAIServer, HttpError, Respond

ANSWERABLE = [
    ("What did Trump's special envoy call the coalition of the willing?", "posture and a pose"),
    ("How many Afghan helicopters flew in secret to Uzbekistan?", "24"),
    ("What did Giorgia Meloni call deploying European troops to Ukraine?", "risky"),
]
UNANSWERABLE = ["What is the population of Kabul?", "Who won the 2018 football World Cup?"]


def toy_reader(messages: Sequence[Message | dict[str, str]]) -> str:
    """A stand-in model: quotes the source sentence sharing most words with the question."""
    user = messages[-1]
    prompt = user.content if isinstance(user, Message) else user["content"]
    question = set(terms(prompt.split("Question:")[-1].split("\n")[0]))
    best, best_n, best_overlap = "", 0, 0
    for n, body in re.findall(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', prompt, re.S):
        for sentence in re.split(r"(?<=[.!?”\"])\s+", body):
            overlap = len(question & set(terms(sentence)))
            if overlap > best_overlap:
                best, best_n, best_overlap = sentence.strip(), int(n), overlap
    return f"{best} [{best_n}]" if best_overlap >= 3 else REFUSAL


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


def _scripted(_: FakeOpenAIServer) -> Answerer:
    return LLMAnswerer(ScriptedLLM(toy_reader))


def _openai(srv: FakeOpenAIServer) -> Answerer:
    srv.script = Respond(toy_reader)
    return LLMAnswerer(OpenAILLM(OpenAIConfig(base_url=srv.base_url, model="toy", timeout=10)))


def _extractive(_: FakeOpenAIServer) -> Answerer:
    return ExtractiveAnswerer()


@functools.cache  # one model load for the whole suite; closed by close_the_local_model
def _local_llm() -> LocalLLM:
    return LocalLLM()


def _local(_: FakeOpenAIServer) -> Answerer:
    # As rag.answer.backends makes it: evidence first, with the calibrated answerability gate.
    return LLMAnswerer(_local_llm(), max_tokens=128, evidence_first=True, min_p_yes=LOCAL_MIN_P_YES)


@pytest.fixture(scope="module", autouse=True)
def close_the_local_model() -> Iterator[None]:
    yield
    if _local_llm.cache_info().currsize:
        _local_llm().close()


BACKENDS: dict[str, Callable[[FakeOpenAIServer], Answerer]] = {
    "scripted": _scripted,
    "openai": _openai,
    "extractive": _extractive,
    "local": _local,
}
# The bundled 1.5B model is not reliably right on every question (eval/README.md has its
# scores): the contract holds it to grounding on every answer and to being right on
# LOCAL_RIGHT of the answerable questions; the others must be right on all of them.
LOCAL_RIGHT = 1
PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n == "local" else n for n in BACKENDS]


@pytest.fixture(params=PARAMS)
def kb(request: pytest.FixtureRequest, minilm_kb: rag.KnowledgeBase, server: FakeOpenAIServer):  # type: ignore[no-untyped-def]
    answerer = BACKENDS[request.param](server)
    answerer.name = f"contract-{request.param}"  # type: ignore[misc]
    minilm_kb.use_answerer(answerer)
    return minilm_kb, answerer.name


def assert_grounded(answer: rag.Answer) -> None:
    """A refusal carries nothing; an answer cites, in order, only passages it was shown."""
    if answer.abstained:
        assert answer.text == REFUSAL and answer.citations == []
        return
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, answer.text
    assert {c.hit.chunk_id for c in answer.citations} <= {h.chunk_id for h in answer.sources}
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert cited == set(numbers), (answer.text, numbers)


def is_right(answer: rag.Answer, expected: str) -> bool:
    return (
        not answer.abstained
        and expected.lower() in answer.text.lower()
        and any(expected.lower() in c.hit.text.lower() for c in answer.citations)
    )


@pytest.mark.slow
@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_answers_are_grounded_and_cited(kb, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    base, name = kb
    answer = base.ask(question, backend=name)
    assert_grounded(answer)
    if name != "contract-local":
        assert is_right(answer, expected), answer.text


@pytest.mark.slow
def test_the_local_model_is_right_often_enough(
    minilm_kb: rag.KnowledgeBase, server: FakeOpenAIServer
) -> None:
    answerer = _local(server)
    answerer.name = "contract-local"  # type: ignore[misc]
    minilm_kb.use_answerer(answerer)
    answers = [(minilm_kb.ask(q, backend=answerer.name), e) for q, e in ANSWERABLE]
    right = [a.question for a, e in answers if is_right(a, e)]
    print(f"local model right on {len(right)} of {len(ANSWERABLE)}: {right}")
    assert len(right) >= LOCAL_RIGHT, [a.text for a, _ in answers]


@pytest.mark.slow
@pytest.mark.parametrize("question", UNANSWERABLE)
def test_out_of_corpus_questions_are_refused(kb, question: str) -> None:  # type: ignore[no-untyped-def]
    base, name = kb
    answer = base.ask(question, backend=name)
    assert answer.abstained and answer.citations == [] and answer.text == REFUSAL


@pytest.mark.slow
def test_streaming_yields_text_then_the_answer(kb) -> None:  # type: ignore[no-untyped-def]
    base, name = kb
    items = list(base.stream(ANSWERABLE[0][0], backend=name))
    final = items[-1]
    assert isinstance(final, rag.Answer) and all(isinstance(i, str) for i in items[:-1])
    text = "".join(i for i in items[:-1] if isinstance(i, str))
    assert " ".join(text.split()) == " ".join(final.text.split())  # the stream is the answer
    assert_grounded(final)
    if name != "contract-local":
        assert "posture" in text


@pytest.mark.slow
def test_a_failing_server_is_a_clear_error(
    minilm_kb: rag.KnowledgeBase, server: FakeOpenAIServer
) -> None:
    server.script = HttpError(500, "model crashed")
    llm = OpenAILLM(OpenAIConfig(base_url=server.base_url, model="toy", max_retries=0))
    answerer = LLMAnswerer(llm)
    answerer.name = "contract-broken"
    minilm_kb.use_answerer(answerer)
    with pytest.raises(BackendError, match=r"500.*model crashed"):
        minilm_kb.ask(ANSWERABLE[0][0], backend="contract-broken")
