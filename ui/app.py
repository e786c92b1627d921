"""The chat in the browser: a Gradio 6 app over :class:`rag.kb.KnowledgeBase`.

``rag chat`` calls :func:`serve`; Python callers and tests use :func:`build_app`::

    import rag
    from ui.app import build_app, launch
    demo = build_app(rag.load("index"), backend="extractive")
    launch(demo, port=7860)          # http://127.0.0.1:7860

Programs use the ``ask`` endpoint with ``gradio_client``::

    from gradio_client import Client
    answer = Client("http://127.0.0.1:7860/").predict(
        "What did Trump's special envoy call the coalition?", "extractive", 5, api_name="/ask")
    answer["answer"], [c["title"] for c in answer["citations"]]
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

import rag
from rag.answer.backends import BACKENDS, backend_name
from rag.errors import ConfigError, IndexNotFound, InputError, RagError
from rag.index.pg_schema import redact
from rag.index.store import locate
from rag.ingest.uploads import MAX_FILE_BYTES
from rag.kb import KnowledgeBase
from ui.articles import articles_panel, wire
from ui.chat import Turn, messages, respond
from ui.examples import MAX_EXAMPLES, example_questions
from ui.openai_panel import SessionServer, server_panel
from ui.policy import UploadPolicy
from ui.render import markdown_text
from ui.stop import PRESS, Halt
from ui.style import CSS, JS, THEME

log = logging.getLogger(__name__)

# Answers run in Gradio's worker threads, at most this many at once over all sessions.
# The local model serialises generation itself (llama.cpp is not re-entrant: one lock),
# so extra workers only wait there; extractive and OpenAI-server answers do run side by
# side. 4 keeps a small machine responsive; later requests queue, up to QUEUE_SIZE.
CONCURRENCY = 4
QUEUE_SIZE = 64
MAX_K = 20
INTRO = (
    "# Ask the news\n"
    "Answers come only from the indexed articles, with numbered citations; "
    "each answer is followed by its sources, the cited sentence highlighted. "
    "When the articles don't hold the answer, it says so."
)
EXAMPLES = "Examples from the articles (click to ask):"


def build_app(kb: KnowledgeBase, backend: str | None = None) -> gr.Blocks:
    """The chat app over ``kb``; ``backend`` is the initial choice (default: $RAG_BACKEND/local)."""
    default = backend_name(backend)
    with gr.Blocks(title="Ask the news", analytics_enabled=False) as demo:
        gr.Markdown(INTRO, elem_classes="rag-intro")
        turns = gr.State([])  # per browser session: Gradio deep-copies it for each visitor
        server = gr.State(SessionServer())  # the session's own OpenAI-compatible server
        halt = gr.State(Halt())  # the session's Stop presses, as the server heard them
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                chatbot, question, send, stop, examples = _chat_column(kb)
            with gr.Column(scale=1, min_width=220):
                choice, k, info = _settings_column(kb, default)
                panel = server_panel()
        articles = articles_panel(kb)
        settings, shown = [turns, choice, k, server, *panel], [chatbot, turns]
        presses = gr.Number(0, precision=0, visible="hidden", label="Stop presses")
        # Enter, Ask, an example and Retry are one event: while its answer runs, any of them
        # again does nothing (trigger_mode="once" holds per event), and what was typed
        # meanwhile stays in the box. Stop is no Gradio cancel (see ui/stop.py): the page
        # counts the press, the answer hears of it and ends itself, marked stopped.
        triggers = [question.submit, send.click, *(b.click for b in examples[1:]), chatbot.retry]
        gr.on(triggers, _one_answer(kb, chatbot, question, examples[1:]),
              [question, *examples[1:], presses, halt, *settings], [question, *shown],
              trigger_mode="once", show_progress="hidden", concurrency_id="answer",
              api_visibility="private")  # fmt: skip
        pressed = stop.click(None, presses, presses, js=PRESS, api_visibility="private")
        pressed.then(Halt.hear, [halt, presses], None, queue=False, show_progress="hidden",
                     trigger_mode="multiple", api_visibility="private")  # fmt: skip
        chatbot.clear(lambda: [], None, turns, api_visibility="private")
        wire(articles, kb, [*examples, info], partial(_refreshed, kb))
        gr.api(_ask_endpoint(kb, default), api_name="ask", concurrency_id="answer")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def _chat_column(
    kb: KnowledgeBase,
) -> tuple[gr.Chatbot, gr.Textbox, gr.Button, gr.Button, list[Any]]:
    """The conversation, the question row and the examples: their label, then a button per
    slot (hidden when empty: an upload or removal may fill or empty a slot)."""
    chatbot = gr.Chatbot(
        label="Conversation", show_label=False, elem_id="chat", latex_delimiters=[],
        allow_tags=False, feedback_options=None, buttons=["copy", "copy_all"],
        placeholder="Ask about the articles.",
    )  # fmt: skip
    with gr.Row(equal_height=True):
        question = gr.Textbox(
            label="Your question", show_label=False, placeholder="Ask about the articles…",
            elem_id="question", scale=5, min_width=180, max_lines=4, autofocus=True,
        )  # fmt: skip
        send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="ask")
        stop = gr.Button("Stop", variant="stop", scale=1, min_width=70, elem_id="stop")
    label, *slots = _example_updates(kb)
    examples: list[Any] = [gr.Markdown(EXAMPLES, elem_id="examples-label", visible=label.get(
        "visible", False))]  # fmt: skip
    with gr.Row(elem_id="examples"):
        for slot in slots:
            examples.append(gr.Button(slot.get("value", ""), size="sm", variant="secondary",
                                      visible=slot["visible"]))  # fmt: skip
    return chatbot, question, send, stop, examples


def _example_updates(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """The examples' label, then each slot: shown with its question, or hidden."""
    questions = example_questions(kb)
    slots = [gr.update(value=q, visible=True) for q in questions]
    slots += [gr.update(visible=False)] * (MAX_EXAMPLES - len(questions))
    return [gr.update(visible=bool(questions)), *slots]


def _settings_column(kb: KnowledgeBase, default: str) -> tuple[gr.Dropdown, gr.Slider, gr.Markdown]:
    gr.Markdown("## Settings")
    about = "local: llama.cpp · openai: API server · extractive: no LLM"
    choice = gr.Dropdown(list(BACKENDS), value=default, label="Backend", elem_id="backend",
                         info=about)  # fmt: skip
    k = gr.Slider(1, MAX_K, value=5, step=1, label="Passages searched (top-k)", elem_id="top-k")
    info = gr.Markdown(_index_line(kb), elem_id="index-info")
    return choice, k, info


def _index_line(kb: KnowledgeBase) -> str:
    articles = len(kb.articles())
    return markdown_text(
        f"Index: {articles} articles, {len(kb.store)} passages, embedder {kb.embedder.name}."
    )


def _refreshed(kb: KnowledgeBase) -> list[Any]:
    """After an upload or a removal: the examples and the index line, from the new index."""
    return [*_example_updates(kb), _index_line(kb)]


def _answer_handler(kb: KnowledgeBase) -> Any:
    def answer(
        question: str, turns: list[Turn], backend: str, k: float, server: SessionServer,
        *panel: str, halted: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], list[Turn]]]:  # fmt: skip
        own, hint = None, ""
        if backend == "openai":  # the panel's server, else the one RAG_OPENAI_* names
            own, hint = partial(server.answerer_for, *panel), server.hint(*panel)
        for current in respond(kb, question, turns or [], backend, int(k), answerer=own,
                               hint=hint, halted=halted):  # fmt: skip
            yield messages(current), current

    return answer


def _one_answer(
    kb: KnowledgeBase, chatbot: gr.Chatbot, box: gr.Textbox, examples: list[gr.Button]
) -> Any:
    """The answer event, whatever started it: the box (emptied at the first step, left alone
    after), an example (its label is the question) or Retry (the last question again, its
    old answer dropped)."""
    answer = _answer_handler(kb)

    def asked(evt: gr.EventData, question: str, *values: Any) -> Iterator[tuple[Any, ...]]:
        labels, (ticket, halt, *settings) = values[: len(examples)], values[len(examples) :]
        box: Any = gr.skip()  # an example or Retry leaves what is typed in the box
        if evt.target in examples:
            question = labels[examples.index(evt.target)]
        elif evt.target is chatbot:
            turns = settings[0] or []
            if not turns:
                return
            question, settings = turns[-1].question, [turns[:-1], *settings[1:]]
        else:
            box = ""
        for shown in answer(question, *settings, halted=partial(halt.pressed_since, ticket)):
            yield box, *shown
            box = gr.skip()

    return asked


def _ask_endpoint(kb: KnowledgeBase, default: str) -> Any:
    def ask(question: str, backend: str = "", k: int = 5) -> dict[str, Any]:
        """Answer one question (no history); returns the answer, citations and timings as JSON."""
        try:
            return kb.ask(question, backend=backend or default, k=_whole(k)).to_dict()
        except RagError as error:  # the user's mistake: a message, no traceback in the log
            raise gr.Error(str(error), print_exception=False) from error

    return ask


def _whole(k: Any) -> int:
    """The API's ``k`` as an int (kb.ask checks its range); anything else is the caller's error."""
    try:
        return int(k)
    except (TypeError, ValueError, OverflowError) as error:
        raise InputError(f"k must be a whole number of passages, got {k!r:.40}") from error


def launch(
    demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True
) -> str:
    """Serve ``demo`` locally: no share link, no extra file access; returns the local URL."""
    check_address(host, port)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this host can use the chat", host)
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, share=False, inbrowser=False,
            prevent_thread_lock=True, show_error=False, allowed_paths=[],
            max_file_size=MAX_FILE_BYTES, app_kwargs={"middleware": [Middleware(UploadPolicy)]},
            ssr_mode=False, mcp_server=False, pwa=False, enable_monitoring=False,
            theme=THEME, css=CSS, js=JS, quiet=True, footer_links=["api"],
        )  # fmt: skip
    except OSError as error:  # Gradio says "Cannot find empty port" for any failed bind
        raise _cannot_serve(host, port, error) from error
    if block:  # Gradio's own banner suggests share=True; this app never makes a public link
        print(f"Chat running at {url} (local only; Ctrl+C stops it)", flush=True)
        demo.block_thread()
    return str(url)


def check_address(host: str, port: int) -> None:
    """A ConfigError unless this machine can listen on ``host``:``port`` now.

    Gradio reports every failed bind as "Cannot find empty port in range", and a port
    over 65535 as an OverflowError; a trial bind names the real reason.
    """
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            trial.bind(address)
    except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError
        raise _cannot_serve(host, port, error) from error


def _cannot_serve(host: str, port: int, error: Exception) -> ConfigError:
    if isinstance(error, socket.gaierror):
        reason = "not an address or host name this machine knows"
    elif isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        reason = "the port is in use by another server"
    else:
        reason = getattr(error, "strerror", None) or str(error)
    return ConfigError(
        f"cannot serve the chat on {host}:{port}: {reason}; choose another --host or --port"
    )


def open_index(index_dir: str | Path, seeds: str | Path, store: str | None = None) -> KnowledgeBase:
    """Load the index (the folder, or the store URL ``store``), or build it from ``seeds``
    first when there is none."""
    try:
        return rag.load(index_dir, store=store)
    except IndexNotFound:
        where = redact(
            locate(store, index_dir).location
        )  # the folder, or the URL's password-less form
        print(f"No index in {where}: indexing {seeds} first (the first time takes a minute)…",
              file=sys.stderr, flush=True)  # fmt: skip
        kb = rag.build(seeds, index_dir, progress=True, store=store)
        if kb.report is not None:
            print(f"Indexed {kb.report.articles} articles into {where}.", file=sys.stderr)
        return kb


def serve(
    index_dir: str | Path = "index",
    host: str = "127.0.0.1",
    port: int = 7860,
    backend: str | None = None,
    seeds: str | Path = "seeds",
    store: str | None = None,
) -> None:
    """``rag chat``: open (or build) the index and serve the chat until interrupted."""
    check_address(host, port)  # before indexing, which may take a minute
    kb = open_index(index_dir, seeds, store)
    launch(build_app(kb, backend), host, port, block=True)
