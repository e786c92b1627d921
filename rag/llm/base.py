"""The LLM role: a chat model that streams text.

Backends are plain classes that satisfy :class:`LLM` without subclassing it:
:class:`rag.llm.local.LocalLLM`, :class:`rag.llm.openai_backend.OpenAILLM` and the
fakes in :mod:`rag.llm.scripted`. There is no LLM registry: the answer backends
(:data:`rag.answer.backends.BACKENDS`, a dict of name -> factory) build the one they use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


class LLM(Protocol):
    """Streams the reply to a chat as text pieces.

    Must raise :class:`rag.errors.BackendError` on failure and
    :class:`rag.errors.IncompleteResponse` when the stream ends without the
    backend saying it finished; never return partial text silently.
    """

    name: str

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]: ...
