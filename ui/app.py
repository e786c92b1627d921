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
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import rag
from rag.answer.backends import BACKENDS, backend_name
from rag.errors import ConfigError, IndexNotFound, InputError, RagError
from rag.kb import KnowledgeBase
from ui.chat import Turn, messages, respond, stopped
from ui.examples import example_questions
from ui.openai_panel import SessionServer, server_panel
from ui.render import markdown_text
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


def build_app(kb: KnowledgeBase, backend: str | None = None) -> gr.Blocks:
    """The chat app over ``kb``; ``backend`` is the initial choice (default: $RAG_BACKEND/local)."""
    default = backend_name(backend)
    with gr.Blocks(title="Ask the news", analytics_enabled=False) as demo:
        gr.Markdown(INTRO, elem_classes="rag-intro")
        turns = gr.State([])  # per browser session: Gradio deep-copies it for each visitor
        server = gr.State(SessionServer())  # the session's own OpenAI-compatible server
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                chatbot, question, send, stop, examples = _chat_column(kb)
            with gr.Column(scale=1, min_width=220):
                choice, k = _settings_column(kb, default)
                panel = server_panel()
        answer = _answer_handler(kb)
        settings, shown = [turns, choice, k, server, *panel], [chatbot, turns]
        # Enter and Ask are one event: while its answer runs, pressing either again does
        # nothing (trigger_mode="once") and what was typed meanwhile stays in the box.
        asked = gr.on([question.submit, send.click], _from_box(answer), [question, *settings],
                      [question, *shown], trigger_mode="once", show_progress="hidden",
                      concurrency_id="answer", api_visibility="private")  # fmt: skip
        running = [asked]
        for button in examples:
            clicked = button.click(answer, [button, *settings], shown, show_progress="hidden",
                                   concurrency_id="answer", api_visibility="private")  # fmt: skip
            running.append(clicked)
        retried = chatbot.retry(_retry_handler(kb), settings, shown, concurrency_id="answer",
                                show_progress="hidden", api_visibility="private")  # fmt: skip
        running.append(retried)
        # Cancelling closes the answer's generator, which closes the model's stream; then the
        # unfinished answer is marked as stopped. Gradio's own progress overlay stays hidden:
        # the answer shows "Writing… N s" itself, and a cancelled event's overlay could be left
        # over the chat, swallowing clicks on Retry (seen in the Stop browser test).
        halted = stop.click(None, cancels=running, queue=False, api_visibility="private")
        halted.then(_stop, turns, shown, queue=False, show_progress="hidden",
                    api_visibility="private")  # fmt: skip
        chatbot.clear(lambda: [], None, turns, api_visibility="private")
        gr.api(_ask_endpoint(kb, default), api_name="ask", concurrency_id="answer")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def _chat_column(
    kb: KnowledgeBase,
) -> tuple[gr.Chatbot, gr.Textbox, gr.Button, gr.Button, list[gr.Button]]:
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
    examples = []
    questions = example_questions(kb)
    if questions:
        gr.Markdown("Examples from the articles (click to ask):", elem_id="examples-label")
        with gr.Row(elem_id="examples"):
            examples = [gr.Button(q, size="sm", variant="secondary") for q in questions]
    return chatbot, question, send, stop, examples


def _settings_column(kb: KnowledgeBase, default: str) -> tuple[gr.Dropdown, gr.Slider]:
    gr.Markdown("## Settings")
    about = "local: llama.cpp · openai: API server · extractive: no LLM"
    choice = gr.Dropdown(list(BACKENDS), value=default, label="Backend", elem_id="backend",
                         info=about)  # fmt: skip
    k = gr.Slider(1, MAX_K, value=5, step=1, label="Passages searched (top-k)", elem_id="top-k")
    articles = len(kb.articles())
    gr.Markdown(markdown_text(f"Index: {articles} articles, {len(kb.store)} passages, "
                              f"embedder {kb.embedder.name}."))  # fmt: skip
    return choice, k


def _answer_handler(kb: KnowledgeBase) -> Any:
    def answer(
        question: str, turns: list[Turn], backend: str, k: float, server: SessionServer,
        *panel: str,
    ) -> Iterator[tuple[list[dict[str, Any]], list[Turn]]]:  # fmt: skip
        own, hint = None, ""
        if backend == "openai":  # the panel's server, else the one RAG_OPENAI_* names
            own, hint = partial(server.answerer_for, *panel), server.hint(*panel)
        for current in respond(kb, question, turns or [], backend, int(k), answerer=own,
                               hint=hint):  # fmt: skip
            yield messages(current), current

    return answer


def _from_box(answer: Any) -> Any:
    """Enter/Ask: the first step empties the box; later ones leave what is typed there."""

    def asked(question: str, *settings: Any) -> Iterator[tuple[Any, ...]]:
        box: Any = ""
        for shown in answer(question, *settings):
            yield box, *shown
            box = gr.skip()

    return asked


def _retry_handler(kb: KnowledgeBase) -> Any:
    """Regenerate: the last question asked again, its old answer dropped."""
    answer = _answer_handler(kb)

    def retry(
        turns: list[Turn], *settings: Any
    ) -> Iterator[tuple[list[dict[str, Any]], list[Turn]]]:
        if turns:
            yield from answer(turns[-1].question, turns[:-1], *settings)

    return retry


def _stop(turns: list[Turn]) -> tuple[list[dict[str, Any]], list[Turn]]:
    current = stopped(turns or [])
    return messages(current), current


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
            max_file_size="1kb", app_kwargs={"middleware": [Middleware(NoUploads)]},
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


class NoUploads:
    """ASGI middleware refusing Gradio's upload route: this app has no file inputs, and
    anonymous uploads would be stored and served back from ``/gradio_api/file=``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith("/gradio_api/upload"):
            response = PlainTextResponse("this app takes no uploads", status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def open_index(index_dir: str | Path, seeds: str | Path) -> KnowledgeBase:
    """Load the index, or build it from ``seeds`` first when there is none."""
    try:
        return rag.load(index_dir)
    except IndexNotFound:
        print(f"No index in {index_dir}: indexing {seeds} first (the first time takes a minute)…",
              file=sys.stderr, flush=True)  # fmt: skip
        kb = rag.build(seeds, index_dir, progress=True)
        if kb.report is not None:
            print(f"Indexed {kb.report.articles} articles into {index_dir}.", file=sys.stderr)
        return kb


def serve(
    index_dir: str | Path = "index",
    host: str = "127.0.0.1",
    port: int = 7860,
    backend: str | None = None,
    seeds: str | Path = "seeds",
) -> None:
    """``rag chat``: open (or build) the index and serve the chat until interrupted."""
    check_address(host, port)  # before indexing, which may take a minute
    kb = open_index(index_dir, seeds)
    launch(build_app(kb, backend), host, port, block=True)
