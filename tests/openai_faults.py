"""Fault injection for the loopback OpenAI-compatible server (tests/fake_openai_server.py).

Each script here writes its own HTTP response, the way a broken or hostile server would:
a captive portal's HTML page with status 200, an empty or cut body, a stream of chunks
of the wrong shape, tokens dribbled slower than any deadline, a connection closed
without an answer. :data:`FAULTS` names every fault with the outcome the client owes the
user: a clear error, or an answer marked incomplete; never a refusal, never a traceback.

Example::

    with FakeOpenAIServer() as server:
        server.script = FAULTS["html-200"].script
        ...  # the openai backend must raise BackendError, not answer "The articles do not say."
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from rag.llm.openai_backend import OpenAIConfig, OpenAILLM

from fake_openai_server import FakeOpenAIServer, HttpError, Script, Truncated, chunk_event

ROOT = Path(__file__).resolve().parent.parent
PORTAL = b"""<!DOCTYPE html>
<html><head><meta http-equiv="refresh" content="0; url=http://login.hotel.example/">
<title>Hotel Wi-Fi: log in</title></head>
<body><h1>Welcome!</h1><p>Please accept the terms to browse.</p></body></html>
"""


@dataclass(frozen=True)
class Body:
    """Answer ``status`` with ``body`` as it is: an HTML page, cut JSON, nothing at all."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(self.status)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(self.body)


@dataclass(frozen=True)
class Events:
    """Stream these ``data:`` payloads as a proper event stream, then close it."""

    payloads: tuple[str, ...]

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        _event_stream_headers(handler)
        for payload in self.payloads:
            handler.wfile.write(b"data: " + payload.encode() + b"\n\n")
            handler.wfile.flush()


@dataclass(frozen=True)
class Dribble:
    """Stream ``piece`` every ``interval`` seconds, ``count`` times, then finish properly.

    Each piece comes well within any read timeout, so only a total deadline stops it.
    """

    interval: float
    count: int = 10_000
    piece: str = "la "

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        _event_stream_headers(handler)
        for _ in range(self.count):
            handler.wfile.write(chunk_event("m", self.piece, None))
            handler.wfile.flush()
            if stopping.wait(self.interval):
                return
        handler.wfile.write(chunk_event("m", None, "stop") + b"data: [DONE]\n\n")


@dataclass(frozen=True)
class Hangup:
    """Read the request, then close the connection without a word."""

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.close_connection = True


def _event_stream_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()


def chunk(**fields: object) -> str:
    """A chat-completion chunk with ``fields`` replaced, as the JSON text of one event.

    >>> json.loads(chunk(choices="notalist"))["choices"]
    'notalist'
    """
    base: dict[str, object] = {"id": "c", "object": "chat.completion.chunk", "created": 0}
    base.update({"model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    return json.dumps({**base, **fields})


@dataclass(frozen=True)
class Fault:
    """A broken server (``script``) and what the user must get: ``error`` or ``incomplete``."""

    script: Script
    outcome: str  # "error": a BackendError; "incomplete": an answer marked incomplete
    message: str = ""  # a pattern the error message must match


FAULTS = {
    "http-500": Fault(HttpError(500, "CUDA out of memory"), "error", "HTTP 500"),
    "http-429": Fault(HttpError(429, "rate limited"), "error", "HTTP 429"),
    "http-404": Fault(HttpError(404, "no such model"), "error", "HTTP 404"),
    "html-200": Fault(Body(PORTAL), "error", "HTML page"),
    "empty-200": Fault(Body(b"", "text/event-stream"), "error", "no reply"),
    "empty-json-200": Fault(Body(b"", "application/json"), "error", "no reply"),
    "cut-json-200": Fault(Body(b'{"id": "c", "choi', "application/json"), "error", "no reply"),
    "only-done": Fault(Body(b"data: [DONE]\n\n", "text/event-stream"), "error", "no reply"),
    "cut-json-chunk": Fault(Events(('{"id": "c", "choi',)), "error", "malformed"),
    "choices-not-a-list": Fault(Events((chunk(choices="notalist"),)), "error", "malformed"),
    "choice-not-an-object": Fault(Events((chunk(choices=[7]),)), "error", "malformed"),
    "delta-not-an-object": Fault(Events((chunk(choices=[{"delta": "x"}]),)), "error", "malformed"),
    "content-not-text": Fault(
        Events((chunk(choices=[{"delta": {"content": ["x"]}}]),)), "error", "malformed"
    ),
    "chunk-not-an-object": Fault(Events(("[1, 2]",)), "error", "malformed"),
    "hangup": Fault(Hangup(), "error", "cannot reach"),
    "dropped-mid-stream": Fault(Truncated("The answer is forty", chunked=True), "incomplete"),
    "cut-before-finish": Fault(Truncated("The answer is forty"), "incomplete"),
}


# --- the layers a fault is checked through -----------------------------------------------


def make_llm(server: FakeOpenAIServer, **settings: object) -> OpenAILLM:
    """The openai backend pointed at ``server``, failing fast (no retries); settings win."""
    settings = {"base_url": server.base_url, "max_retries": 0, "timeout": 5.0, **settings}
    return OpenAILLM(OpenAIConfig(**settings))  # type: ignore[arg-type]


def rag_ask(
    index_dir: Path, question: str, base_url: str, *flags: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    """``rag [flags] ask QUESTION --backend openai`` against ``base_url``, as a user runs it.

    ``settings`` become ``RAG_OPENAI_*`` variables: ``deadline="1"`` is RAG_OPENAI_DEADLINE=1.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), RAG_OPENAI_BASE_URL=base_url, RAG_OPENAI_RETRIES="0")
    env.update({f"RAG_OPENAI_{k.upper()}": v for k, v in settings.items()})
    args = [*flags, "ask", question, "--backend", "openai", "--index", str(index_dir)]
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def chat_text(display: str) -> str:
    r"""A chat message as the user reads it: HTML entities and Markdown escapes undone.

    >>> chat_text(r"a \*\*\* &amp; b")
    'a *** & b'
    """
    return re.sub(r"\\(.)", r"\1", html.unescape(display))
