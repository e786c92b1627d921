"""One chat turn: stream an answer from the knowledge base into chat messages.

A conversation is a list of :class:`Turn` kept in the browser session's
``gr.State`` (one copy per session, never module-level), so two people chatting
at once never see each other's history. The Chatbot only shows what the turns
render to; the history given to ``kb.stream`` is the raw text of the turns that
were answered, not the escaped HTML on screen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from typing import Any

from rag.answer.answerers import Answerer, prepare, prepare_needed
from rag.errors import RagError
from rag.kb import KnowledgeBase
from rag.types import Answer
from ui.render import linked_markers, markdown_text, sources_html
from ui.worker import in_thread

log = logging.getLogger(__name__)

SEARCHING = "_Searching the articles…_"
WRITING = "_Writing… {seconds} s_"
STOPPED = "_(Stopped: you pressed Stop before the answer was finished.)_"
TICK = 1.0  # seconds: how often the "Writing… N s" count moves while the model is silent
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
    draft: str = ""  # the raw text streamed so far, while the answer is being written


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


def answer_display(answer: Answer, key: str = "a0") -> str:
    """The final answer: text (its markers linked to the cards), notes, then its sources.

    ``key`` tells this answer's source cards apart from the other answers' on the page.
    """
    # A note may quote the question ("No article mentions “…”"): escape it like any text.
    notes = [f"_({markdown_text(answer.note)})_"] if answer.note else []
    if answer.incomplete:
        notes.append("_(The answer was cut off: the backend stopped before it finished.)_")
    if answer.abstained:
        body = ABSTAINED
    else:
        body = linked_markers(markdown_text(answer.text), answer, key)
        if answer.unsupported:
            notes.append(f"_({len(answer.unsupported)} sentence(s) above cite no source.)_")
    sources = sources_html(answer, key)
    return "\n\n".join([body, *notes, *([sources] if sources else [])])


def writing_display(draft: str, seconds: float) -> str:
    """A streaming answer: the text so far, then how long it has been writing."""
    status = WRITING.format(seconds=int(seconds))
    return f"{markdown_text(draft)}\n\n{status}" if draft else status


def stopped(turns: list[Turn]) -> list[Turn]:
    """The conversation after Stop: an unfinished last turn keeps its draft, marked stopped."""
    if not turns or turns[-1].ok:
        return turns
    last = turns[-1]
    shown = f"{markdown_text(last.draft)}\n\n{STOPPED}" if last.draft else STOPPED
    return [*turns[:-1], Turn(last.question, shown)]


def error_display(error: RagError, hint: str = "") -> str:
    """The error in one line, then ``hint`` (what to set up) if any, then that chat goes on."""
    return "\n\n".join([f"⚠️ {markdown_text(str(error))}", *([hint] if hint else []), RETRY])


def respond(
    kb: KnowledgeBase,
    question: str,
    turns: list[Turn],
    backend: str,
    k: int,
    *,
    answerer: Callable[[], Answerer | None] | None = None,
    hint: str = "",
    halted: Callable[[], bool] | None = None,
) -> Iterator[list[Turn]]:
    """Yield the conversation after each step: question shown, text streamed, final answer.

    ``answerer`` makes this session's own answerer (None: the backend's); ``hint`` follows
    an error message (what to set up). ``halted`` says whether Stop was pressed for this
    answer (:mod:`ui.stop`); it is asked before the first step (true: nothing is asked) and
    at every step after, at least every ``TICK`` seconds: then the model's stream is closed
    and the last step is the turn marked stopped, its draft kept (:func:`stopped`).

    Each step is a new list ending in a new :class:`Turn`; nothing is changed in place,
    so what was yielded stays as it was while the next step is being made.
    """
    question, halted = (question or "").strip(), halted or (lambda: False)
    if not question or halted():
        return
    yield [*turns, Turn(question, SEARCHING)]
    past, key, started = history(turns), f"a{len(turns)}", time.monotonic()
    turn: Turn | None = None
    try:
        steps = partial(_answer, kb, question, past, backend, k, key, answerer)
        with closing(in_thread(steps, idle=TICK)) as items:  # closed: the model is free
            for step in items:
                turn = step or turn  # None: nothing new for TICK seconds, the clock moves on
                if halted():
                    break
                if turn is not None and turn.draft:
                    seconds = time.monotonic() - started
                    turn = Turn(question, writing_display(turn.draft, seconds), draft=turn.draft)
                if turn is not None:
                    yield [*turns, turn]
            else:
                return
        yield stopped([*turns, turn or Turn(question, SEARCHING)])  # a finished turn stays
    except RagError as error:
        yield [*turns, Turn(question, error_display(error, hint))]
    except Exception:  # a bug: keep the chat alive, log the traceback for the operator
        log.exception("answering %r with backend %r failed", question, backend)
        yield [*turns, Turn(question, BUG)]


def _answer(
    kb: KnowledgeBase,
    question: str,
    past: list[dict[str, str]],
    backend: str,
    k: int,
    key: str,
    own: Callable[[], Answerer | None] | None,
) -> Iterator[Turn]:
    """The turn as it grows: a loading note if needed, the streamed text, the final answer."""
    answerer = (own() if own else None) or kb.answerer(backend)
    if prepare_needed(answerer):
        yield Turn(question, LOADING)  # the local model: seconds, the first time only
        prepare(answerer)
    text = ""
    for item in kb.stream(question, history=past, backend=backend, k=k, answerer=answerer):
        if isinstance(item, Answer):
            yield Turn(question, answer_display(item, key), item.text, ok=True)
        else:
            text += item
            yield Turn(question, "", draft=text)
