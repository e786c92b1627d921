"""The Answerer role's contract: grounded, cited answers; plain refusals; clean errors.

:class:`AnswererContract` holds the tests; each backend subclasses it with its fixtures:
``answerer`` and ``base_kb`` (the shared index it answers over; the tests ask a private
copy). A scripted LLM and the openai backend against a loopback server are both driven
by the same toy reader, so the whole prompt -> model -> citation path is exercised.
Over the hash index they run in the fast suite; over MiniLM, and the real local model,
they are ``slow``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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

from conftest import own
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


class AnswererContract:
    """What every :class:`rag.answer.answerers.Answerer` must do (not collected itself)."""

    # How many ANSWERABLE questions it must get right; the bundled 1.5B model is not
    # reliably right on every one (eval/README.md has its scores), the rest must be.
    right_at_least = len(ANSWERABLE)

    @pytest.fixture
    def kb(self, base_kb: rag.KnowledgeBase, answerer: Answerer) -> rag.KnowledgeBase:
        """A private knowledge base over ``base_kb``'s index with ``answerer`` registered."""
        kb = own(base_kb)
        kb.use_answerer(answerer)
        return kb

    def test_has_a_name(self, answerer: Answerer) -> None:
        assert isinstance(answerer.name, str) and answerer.name

    def test_streams_text_pieces_over_the_hits_it_is_given(
        self, kb: rag.KnowledgeBase, answerer: Answerer
    ) -> None:
        question = ANSWERABLE[0][0]
        pieces = list(answerer.stream(question, kb.search(question, k=5)))
        assert pieces and all(isinstance(p, str) for p in pieces) and "".join(pieces).strip()

    @pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
    def test_answers_are_grounded_and_cited(
        self, kb: rag.KnowledgeBase, answerer: Answerer, question: str, expected: str
    ) -> None:
        answer = kb.ask(question, backend=answerer.name)
        assert_grounded(answer)
        if self.right_at_least == len(ANSWERABLE):
            assert is_right(answer, expected), answer.text

    def test_is_right_often_enough(self, kb: rag.KnowledgeBase, answerer: Answerer) -> None:
        answers = [(kb.ask(q, backend=answerer.name), e) for q, e in ANSWERABLE]
        right = [a.question for a, e in answers if is_right(a, e)]
        print(f"{answerer.name} right on {len(right)} of {len(ANSWERABLE)}: {right}")
        assert len(right) >= self.right_at_least, [a.text for a, _ in answers]

    @pytest.mark.parametrize("question", UNANSWERABLE)
    def test_out_of_corpus_questions_are_refused(
        self, kb: rag.KnowledgeBase, answerer: Answerer, question: str
    ) -> None:
        answer = kb.ask(question, backend=answerer.name)
        assert answer.abstained and answer.citations == [] and answer.text == REFUSAL

    def test_streaming_yields_text_then_the_answer(
        self, kb: rag.KnowledgeBase, answerer: Answerer
    ) -> None:
        items = list(kb.stream(ANSWERABLE[0][0], backend=answerer.name))
        final = items[-1]
        assert isinstance(final, rag.Answer) and all(isinstance(i, str) for i in items[:-1])
        text = "".join(i for i in items[:-1] if isinstance(i, str))
        assert " ".join(text.split()) == " ".join(final.text.split())  # the stream is the answer
        assert_grounded(final)
        if self.right_at_least == len(ANSWERABLE):
            assert "posture" in text

    def test_a_backend_failure_reaches_the_caller(
        self, base_kb: rag.KnowledgeBase, failing: tuple[Answerer, str]
    ) -> None:
        answerer, pattern = failing
        kb = own(base_kb)
        kb.use_answerer(answerer)
        with pytest.raises(BackendError, match=pattern):
            kb.ask(ANSWERABLE[0][0], backend=answerer.name)


class TestScriptedAnswerer(AnswererContract):
    @pytest.fixture
    def base_kb(self, hash_kb: rag.KnowledgeBase) -> rag.KnowledgeBase:
        return hash_kb

    @pytest.fixture
    def answerer(self) -> Answerer:
        return LLMAnswerer(ScriptedLLM(toy_reader))

    @pytest.fixture
    def failing(self) -> tuple[Answerer, str]:
        def down(_: Sequence[Message]) -> str:
            raise BackendError("the scripted model is down")

        return LLMAnswerer(ScriptedLLM(down)), "scripted model is down"


class TestOpenAIAnswerer(TestScriptedAnswerer):
    """The openai backend against the loopback server, which reads with :func:`toy_reader`."""

    @pytest.fixture
    def answerer(self, openai_server: FakeOpenAIServer) -> Answerer:
        openai_server.script = Respond(toy_reader)
        config = OpenAIConfig(base_url=openai_server.base_url, model="toy", timeout=10)
        return LLMAnswerer(OpenAILLM(config))

    @pytest.fixture
    def failing(self, openai_server: FakeOpenAIServer) -> tuple[Answerer, str]:
        openai_server.script = HttpError(500, "model crashed")
        config = OpenAIConfig(base_url=openai_server.base_url, model="toy", max_retries=0)
        return LLMAnswerer(OpenAILLM(config)), r"500.*model crashed"


class TestExtractiveAnswerer(TestScriptedAnswerer):
    @pytest.fixture
    def answerer(self) -> Answerer:
        return ExtractiveAnswerer()

    test_a_backend_failure_reaches_the_caller = None  # type: ignore[assignment]  # no backend


class OnMiniLM:
    """Over the real MiniLM index, as the shipped backends answer."""

    pytestmark = pytest.mark.slow

    @pytest.fixture
    def base_kb(self, minilm_kb: rag.KnowledgeBase) -> rag.KnowledgeBase:
        return minilm_kb


class TestScriptedAnswererOnMiniLM(OnMiniLM, TestScriptedAnswerer):
    pass


class TestOpenAIAnswererOnMiniLM(OnMiniLM, TestOpenAIAnswerer):
    pass


class TestExtractiveAnswererOnMiniLM(OnMiniLM, TestExtractiveAnswerer):
    pass


class TestLocalAnswerer(OnMiniLM, AnswererContract):
    """The real local model, as rag.answer.backends makes it: evidence first, with the
    calibrated answerability gate; held to grounding always, to being right on one."""

    right_at_least = 1

    @pytest.fixture
    def answerer(self, local_llm: LocalLLM) -> Answerer:
        return LLMAnswerer(
            local_llm, max_tokens=128, evidence_first=True, min_p_yes=LOCAL_MIN_P_YES
        )

    test_a_backend_failure_reaches_the_caller = None  # type: ignore[assignment]  # LLM contract
