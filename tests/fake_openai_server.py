"""A scriptable OpenAI-compatible chat server on loopback, for testing real HTTP clients.

Built on the standard library only: a ``ThreadingHTTPServer`` in a daemon thread on
127.0.0.1 with a free port. Each test picks what the server does next by assigning a
script; the server records every request it received.

Example::

    with FakeOpenAIServer() as server:
        server.script = Reply("Hello there, world", chunks=3)
        ...  # point a client at server.base_url ("http://127.0.0.1:PORT/v1")
        assert server.requests[0].body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, runtime_checkable

import pytest


@dataclass(frozen=True)
class Reply:
    """Answer with ``text`` split into ``chunks`` pieces, then ``finish_reason``."""

    text: str
    chunks: int = 3
    finish_reason: str | None = "stop"


@dataclass(frozen=True)
class Respond:
    """Answer with ``fn(messages)``: a stand-in model that reads the request."""

    fn: Callable[[list[dict[str, str]]], str]
    chunks: int = 4


@dataclass(frozen=True)
class Echo:
    """Answer with the content of the last user message (proves the messages arrived)."""


@dataclass(frozen=True)
class HttpError:
    """Answer with ``status`` and an OpenAI-style JSON error body."""

    status: int
    message: str = "something went wrong"


@dataclass(frozen=True)
class Malformed:
    """Stream ``good_chunks`` good pieces of ``text``, then ``data: {not json``."""

    text: str = "Hello there"
    good_chunks: int = 1


@dataclass(frozen=True)
class Truncated:
    """Stream ``text`` without any finish_reason and without ``[DONE]``, then hang up.

    ``chunked=False`` ends the body cleanly (the client sees a normal end of stream);
    ``chunked=True`` drops the connection in the middle of a chunked body.
    """

    text: str = "The answer is"
    chunked: bool = False


@dataclass(frozen=True)
class Slow:
    """Stall for ``delay`` seconds, before the headers or after ``after_chunks`` pieces."""

    delay: float
    text: str = "too late"
    after_chunks: int | None = None


@runtime_checkable
class CustomReply(Protocol):
    """A script that writes its own response (tests/openai_faults.py has the fault injections)."""

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None: ...


Script = Reply | Respond | Echo | HttpError | Malformed | Truncated | Slow | CustomReply


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any


def split_text(text: str, parts: int) -> list[str]:
    """Cut ``text`` into ``parts`` contiguous pieces (fewer if it is short).

    >>> split_text("abcdefg", 3)
    ['abc', 'def', 'g']
    """
    size = max(1, -(-len(text) // max(1, parts)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def chunk_event(model: str, content: str | None, finish: str | None, role: bool = False) -> bytes:
    delta: dict[str, str] = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def usage_event(model: str, completion_tokens: int) -> bytes:
    usage = {"prompt_tokens": 7, "completion_tokens": completion_tokens}
    usage["total_tokens"] = usage["prompt_tokens"] + completion_tokens
    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
    chunk.update({"model": model, "choices": [], "usage": usage})
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # so a chunked body can be cut off mid-way
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep pytest output clean."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append(RecordedRequest("POST", self.path, headers, body))
        # The client may have given up already (timeout tests): nothing left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(body if isinstance(body, dict) else {})

    def _answer(self, body: dict[str, Any]) -> None:
        script = self.server.script
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        if isinstance(script, CustomReply):
            return script.serve(self, self.server.stopping)
        if isinstance(script, HttpError):
            err = {"message": script.message, "type": "fake_error", "code": script.status}
            return self._json(script.status, {"error": err})
        if isinstance(script, Slow) and script.after_chunks is None:
            self.server.stopping.wait(script.delay)
        text = self._reply_text(script, body)
        if not body.get("stream"):
            return self._json(200, _completion(body.get("model", ""), text, _finish(script)))
        self._stream(script, body, text)

    @staticmethod
    def _reply_text(script: Script, body: dict[str, Any]) -> str:
        if isinstance(script, Echo):
            users = [m for m in body.get("messages", []) if m.get("role") == "user"]
            return str(users[-1]["content"]) if users else ""
        if isinstance(script, Respond):
            return script.fn(list(body.get("messages", [])))
        return getattr(script, "text", "")

    def _stream(self, script: Script, body: dict[str, Any], text: str) -> None:
        model = str(body.get("model", ""))
        chunked = isinstance(script, Truncated) and script.chunked
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = split_text(text, script.chunks if isinstance(script, Reply | Respond) else 3)
        self._write(chunk_event(model, None, None, role=True), chunked)
        for i, piece in enumerate(pieces):
            if isinstance(script, Malformed) and i == script.good_chunks:
                return self._write(b"data: {not json\n\n", chunked)
            if isinstance(script, Slow) and i == script.after_chunks:
                self.server.stopping.wait(script.delay)
            self._write(chunk_event(model, piece, None), chunked)
        if isinstance(script, Truncated):
            return  # hang up: no finish_reason, no [DONE], no terminating chunk
        self._write(chunk_event(model, None, _finish(script)), chunked)
        if (body.get("stream_options") or {}).get("include_usage"):
            self._write(usage_event(model, len(pieces)), chunked)
        self._write(b"data: [DONE]\n\n", chunked)

    def _write(self, data: bytes, chunked: bool) -> None:
        if chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self.wfile.write(data)
        self.wfile.flush()

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.send_header("retry-after-ms", "1")  # keeps the client's retries fast
        self.end_headers()
        self.wfile.write(data)


def _finish(script: Script) -> str | None:
    return script.finish_reason if isinstance(script, Reply) else "stop"


def _completion(model: str, text: str, finish: str | None) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}}
    choice["finish_reason"] = finish
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: Script = Reply("Hello from the fake server.")
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()  # wakes up Slow handlers at shutdown


@dataclass
class FakeOpenAIServer:
    """Context manager around the loopback server; assign ``script`` to choose the reply."""

    _server: _Server = field(default_factory=_Server)
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def script(self) -> Script:
        return self._server.script

    @script.setter
    def script(self, value: Script) -> None:
        self._server.script = value

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._server.requests

    def __enter__(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI-compatible server per test, shut down afterwards."""
    with FakeOpenAIServer() as server:
        yield server
