"""One chat turn: stream an answer from the knowledge base into chat messages.

A conversation is a list of :class:`Turn` kept in the browser session's
``gr.State`` (one copy per session, never module-level), so two people chatting
at once never see each other's history. The Chatbot only shows what the turns
render to; the history given to ``kb.stream`` is the raw text of the turns that
were answered, not the escaped HTML on screen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.answer.answerers import prepare, prepare_needed
from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.types import Answer
from ui.render import markdown_text, searched_html, sources_html
from ui.worker import in_thread

log = logging.getLogger(__name__)

THINKING = "…"
LOADING = "⏳ Loading the local model (first time only)…"
ABSTAINED = (
    "**The articles don't say.** I could not find this in the indexed articles, "
    "so I won't guess. Try rephrasing, or ask about something the articles cover."
)
RETRY = "The chat still works: ask again, or pick another backend in Settings."
BUG = (
    "⚠️ Something went wrong while answering (the details are in the server log). "
    "Please try again, or pick another backend in Settings."
)

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class Turn:
    """One question and what was shown for it; ``answer`` is empty unless it was answered."""

    question: str
    display: str  # Markdown/HTML for the Chatbot (escaped)
    answer: str = ""  # the raw answer text, for the history of follow-ups
    ok: bool = False  # False for errors: they stay on screen but out of the history


def history(turns: list[Turn]) -> list[dict[str, str]]:
    """The answered turns as messages dicts, for ``kb.stream(history=...)``."""
    out = []
    for turn in turns:
        if turn.ok:
            out.append({"role": "user", "content": turn.question})
            out.append({"role": "assistant", "content": turn.answer})
    return out


def messages(turns: list[Turn]) -> Messages:
    """What the Chatbot shows (Gradio messages format)."""
    out: Messages = []
    for turn in turns:
        out.append({"role": "user", "content": markdown_text(turn.question)})
        out.append({"role": "assistant", "content": turn.display})
    return out


def answer_display(answer: Answer) -> str:
    """The final answer: text, honest notes, then its sources."""
    # A note may quote the question ("No article mentions “…”"): escape it like any text.
    notes = [f"_({markdown_text(answer.note)})_"] if answer.note else []
    if answer.incomplete:
        notes.append("_(The answer was cut off: the backend stopped before it finished.)_")
    if answer.abstained:
        searched = searched_html(answer)
        return "\n\n".join([ABSTAINED, *notes, *([searched] if searched else [])])
    if answer.unsupported:
        notes.append(f"_({len(answer.unsupported)} sentence(s) above cite no source.)_")
    body = "\n\n".join([markdown_text(answer.text), *notes])
    sources = sources_html(answer)
    return f"{body}\n\n{sources}" if sources else body


def error_display(error: RagError) -> str:
    return f"⚠️ {markdown_text(str(error))}\n\n{RETRY}"


def respond(
    kb: KnowledgeBase, question: str, turns: list[Turn], backend: str, k: int
) -> Iterator[list[Turn]]:
    """Yield the conversation after each step: question shown, text streamed, final answer.

    Each step is a new list ending in a new :class:`Turn`; nothing is changed in place,
    so what was yielded stays as it was while the next step is being made.
    """
    question = (question or "").strip()
    if not question:
        return
    yield [*turns, Turn(question, THINKING)]
    past = history(turns)
    try:
        for turn in in_thread(lambda: _answer(kb, question, past, backend, k)):
            yield [*turns, turn]
    except RagError as error:
        yield [*turns, Turn(question, error_display(error))]
    except Exception:  # a bug: keep the chat alive, log the traceback for the operator
        log.exception("answering %r with backend %r failed", question, backend)
        yield [*turns, Turn(question, BUG)]


def _answer(
    kb: KnowledgeBase, question: str, past: list[dict[str, str]], backend: str, k: int
) -> Iterator[Turn]:
    """The turn as it grows: a loading note if needed, the streamed text, the final answer."""
    answerer = kb.answerer(backend)
    if prepare_needed(answerer):
        yield Turn(question, LOADING)  # the local model: seconds, the first time only
        prepare(answerer)
    text = ""
    for item in kb.stream(question, history=past, backend=backend, k=k):
        if isinstance(item, Answer):
            yield Turn(question, answer_display(item), item.text, ok=True)
        else:
            text += item
            yield Turn(question, markdown_text(text))
