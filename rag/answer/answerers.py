"""The Answerer role: turn a question and its hits into answer text with ``[n]`` markers.

The markers refer to ``hits`` 1-based; :func:`rag.answer.citations.resolve` checks and
renumbers them afterwards. An answerer that finds no answer yields
:data:`rag.text.refusals.REFUSAL` alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.answer.budget import fit_hits
from rag.answer.prompt import answer_shape, build_messages
from rag.errors import InputError
from rag.llm.base import LLM, Message
from rag.types import Hit


class Answerer(Protocol):
    """Streams answer text with ``[n]`` markers for a question and its hits.

    An answerer with something slow to load first (a model) may also offer ``ready``
    (False until loaded) and ``prepare()`` (load it now), so a chat can say "loading"
    instead of looking stuck; :func:`prepare_needed` and :func:`prepare` use them.
    """

    name: str

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Iterator[str]: ...


def prepare_needed(answerer: Answerer) -> bool:
    """True when ``answerer`` has something to load before its first answer.

    >>> from rag.llm.scripted import ScriptedLLM
    >>> prepare_needed(LLMAnswerer(ScriptedLLM("Yes [1].")))
    False
    """
    return not getattr(answerer, "ready", True)


def prepare(answerer: Answerer) -> None:
    """Load what ``answerer``'s first answer would wait for (see :class:`Answerer`)."""
    getattr(answerer, "prepare", lambda: None)()


class LLMAnswerer:
    """Answers with any :class:`rag.llm.base.LLM`, greedy decoding, from :func:`build_messages`.

    >>> from rag.llm.scripted import ScriptedLLM
    >>> "".join(LLMAnswerer(ScriptedLLM("Yes [1].")).stream("Is it?", []))
    'Yes [1].'
    """

    def __init__(
        self,
        llm: LLM,
        max_tokens: int = 256,
        context_tokens: int = 4096,
        trim_tokens: int | None = None,
        evidence_first: bool = False,
        min_p_yes: float = 0.0,
    ) -> None:
        if max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, got {max_tokens!r}")
        if context_tokens <= max_tokens:
            raise InputError(
                f"context_tokens ({context_tokens}) must exceed max_tokens ({max_tokens})"
            )
        self.llm = llm
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self.trim_tokens = trim_tokens  # None: passages go to the model whole
        # True: the pipeline hands over the evidence sentences (rag.answer.evidence) and has already
        # decided the question is answerable, so the prompt has no refusal exit.
        self.evidence_first = evidence_first
        # Below this P("Yes") to "do the sources state the answer?" the answer is a refusal;
        # 0 asks nothing. Only for LLMs with a ``p_yes`` method (the local one).
        self.min_p_yes = min_p_yes
        self.name = llm.name

    @property
    def summarises_from_lead(self) -> bool:
        """Evidence first: a summary reads the best article's lead first (rag.answer.pipeline)."""
        return self.evidence_first

    @property
    def ready(self) -> bool:
        """False while the model still has to be loaded (the local one loads lazily)."""
        return bool(getattr(self.llm, "loaded", True))

    def prepare(self) -> None:
        """Load the model now; a no-op for models that need no loading."""
        load = getattr(self.llm, "load", None)
        if load is not None:
            load()

    def answerability(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
    ) -> float | None:
        """The model's P("Yes") that ``hits`` answer ``question``; None when not asked."""
        p_yes = getattr(self.llm, "p_yes", None)
        if not self.min_p_yes or p_yes is None:
            return None
        messages = build_messages(
            question, self._shown(question, hits, history), history, judge=True
        )
        return float(p_yes(messages))

    def _shown(self, question: str, hits: Sequence[Hit], history: Sequence[Message]) -> list[Hit]:
        budget = self.context_tokens - self.max_tokens
        return fit_hits(question, hits, history, budget, self.trim_tokens)

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Iterator[str]:
        shown = self._shown(question, hits, history)
        messages = build_messages(question, shown, history, exit_line=not self.evidence_first)
        # temperature 0: the same question over the same sources gives the same answer.
        pieces = self.llm.stream(messages, max_tokens=self.max_tokens, temperature=0.0)
        if self.evidence_first and answer_shape(question) == "lookup":
            pieces = first_paragraph(pieces)
        yield from pieces


def first_paragraph(pieces: Iterator[str]) -> Iterator[str]:
    r"""The pieces up to the first line break after some text; the model is stopped there.

    A look-up is answered in a sentence or two. After it, the bundled model often went on
    to copy the next evidence lines it had read ("'Coalition of the willing' is a curious
    term to revive..."), a line each, unasked.

    >>> "".join(first_paragraph(iter(["\nKabul fell", " [1].\n", "[2] Other."])))
    '\nKabul fell [1].'
    """
    seen = ""
    try:
        for piece in pieces:
            text = seen + piece
            cut = text.find("\n", len(text) - len(text.lstrip()))  # blank lines first: kept
            if cut >= 0:
                if cut > len(seen):
                    yield text[len(seen) : cut]
                return
            seen = text
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # stops generation now, not at max_tokens
