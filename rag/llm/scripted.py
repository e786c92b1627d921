"""A scripted LLM for fast unit tests: replies with canned text, piece by piece."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from rag.errors import ConfigError, IncompleteResponse
from rag.llm.base import Message


class ScriptedLLM:
    """Answers with ``reply(messages)`` (or a fixed string), split on spaces.

    ``incomplete=True`` imitates a stream cut off before its end.
    """

    name = "scripted"

    def __init__(self, reply: str | Callable[[Sequence[Message]], str], incomplete: bool = False):
        self._reply = reply
        self._incomplete = incomplete
        self.calls: list[list[Message]] = []

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]:
        if max_tokens < 1:  # as the real backends check it
            raise ConfigError(f"max_tokens must be at least 1; got {max_tokens!r}")
        self.calls.append(list(messages))
        text = self._reply(messages) if callable(self._reply) else self._reply
        words = text.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
        if self._incomplete:
            raise IncompleteResponse("the scripted stream was cut off", partial=text)


class JudgedLLM(ScriptedLLM):
    """A :class:`ScriptedLLM` that also answers "do the sources answer?" with P("Yes") = ``p``,
    as :meth:`rag.llm.local.LocalLLM.p_yes` does, for tests of the answerability gates."""

    name = "judged"

    def __init__(self, reply: str, p: float) -> None:
        super().__init__(reply)
        self.p = p

    def p_yes(self, messages: Sequence[Message]) -> float:
        return self.p
