"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

OpenAI itself, Ollama (``http://localhost:11434/v1``), vLLM or the llama.cpp server,
through the ``openai`` package. Every failure becomes a one-line
:class:`~rag.errors.BackendError` naming the server (its URL without credentials): a
status error, an HTML page or a body without a single chunk, a chunk of the wrong shape.
A reply that stops before the server says it finished, or that runs past the deadline or
the token cap, raises :class:`~rag.errors.IncompleteResponse` with the text that came;
when no text came at all there is nothing to show, and it is a plain BackendError.

Example::

    llm = OpenAILLM(OpenAIConfig(base_url="http://localhost:11434/v1", model="llama3.2"))
    print("".join(llm.stream([Message("user", "Say hi")], max_tokens=20)))
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import BackendError, ConfigError, IncompleteResponse
from rag.llm.base import Message
from rag.llm.openai_config import OpenAIConfig, public_url, split_credentials

if TYPE_CHECKING:  # importing openai costs ~0.7 s; do it on first use only
    from openai import OpenAI, Stream
    from openai.types.chat import ChatCompletionChunk

__all__ = ["OpenAIConfig", "OpenAILLM", "describe_error"]


class OpenAILLM:
    """Streams chat replies from an OpenAI-compatible server (satisfies ``rag.llm.base.LLM``).

    After each stream, ``last_usage`` holds ``chunks`` (content pieces received) and, when
    the server reports them, ``prompt_tokens``/``completion_tokens``/``total_tokens``.
    """

    name = "openai"

    def __init__(self, config: OpenAIConfig | None = None) -> None:
        self.config = config or OpenAIConfig()
        self.last_usage: dict[str, int] = {}
        self._client: OpenAI | None = None

    def _get_client(self) -> OpenAI:
        if self._client is None:
            from openai import OpenAI

            cfg = self.config
            # Credentials leave the URL (the libraries log URLs) for the header they became.
            base_url, auth = split_credentials(cfg.base_url)
            self._client = OpenAI(
                base_url=base_url,
                api_key=cfg.api_key or "not-needed",  # the library refuses an empty key
                timeout=_silence_limit(cfg)[0],
                max_retries=cfg.max_retries,
                default_headers=auth or None,
            )
        return self._client

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1; got {max_tokens!r}")
        self._get_client()  # first: the deadline is the server's time, not the import's
        reply = _Reply(self.config, time.monotonic() + self.config.deadline)
        self.last_usage = reply.usage
        chunks = self._open(messages, max_tokens, temperature)
        try:
            reply.check_response(chunks.response)
            for chunk in self._checked(chunks, reply):
                reply.check_deadline()
                piece = reply.take(chunk)
                if piece:
                    yield piece
        finally:
            chunks.close()  # also when the caller stops early: frees the server's slot
        reply.check_finish(max_tokens)

    def _open(
        self, messages: Sequence[Message], max_tokens: int, temperature: float
    ) -> Stream[ChatCompletionChunk]:
        import openai

        # Plain dicts: the library's TypedDicts per role would only restate base.Message.
        history: Any = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return self._get_client().chat.completions.create(
                model=self.config.model,
                messages=history,
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
                # Servers that do not know it ignore it; the rest report token usage.
                stream_options={"include_usage": True},
            )
        except openai.OpenAIError as err:
            raise describe_error(err, self.config) from err

    def _checked(self, chunks: Stream[ChatCompletionChunk], reply: _Reply) -> Iterator[object]:
        """Pass chunks through, turning mid-stream failures into BackendErrors."""
        import openai

        where = _where(self.config)
        try:
            yield from chunks
        except openai.APITimeoutError as err:
            seconds, variable = _silence_limit(self.config)
            raise reply.cut(
                f"{where} went silent for more than the {seconds:g} s "
                f"{_LIMIT_NAMES[variable]} after {len(reply.parts)} chunk(s) ({variable} raises it)"
            ) from err
        except openai.APIConnectionError as err:
            cause = _one_line(str(err.__cause__ or err))
            raise reply.cut(
                f"{where} dropped the connection after {len(reply.parts)} chunk(s): {cause}"
            ) from err
        except openai.OpenAIError as err:  # an error event inside the stream
            raise describe_error(err, self.config) from err
        except Exception as err:  # the library lets json.JSONDecodeError & co. escape
            raise reply.malformed(_one_line(str(err))) from err


class _Reply:
    """One reply as it arrives: its text, finish reason and usage, checked chunk by chunk."""

    def __init__(self, config: OpenAIConfig, deadline: float) -> None:
        self.config, self.deadline = config, deadline
        self.where = _where(config)
        self.parts: list[str] = []
        self.finish: str | None = None
        self.chunks = 0  # chunks read, with or without text
        self.usage: dict[str, int] = {"chunks": 0}
        self.received = "the response"

    def check_response(self, response: Any) -> None:
        """Refuse a page where a stream should be: a captive portal or a proxy's login."""
        kind = response.headers.get("content-type", "") or "no content type"
        self.received = f"its HTTP {response.status_code} response ({kind})"
        if "html" in kind.lower():
            title = _page_title(response)
            raise BackendError(
                f"{self.where} answered HTTP {response.status_code} with an HTML page"
                f"{f' titled {title!r}' if title else ''} instead of a chat reply; "
                "is a captive portal, proxy or login page in the way?"
            )

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise self.cut(
                f"{self.where} was still answering at the {self.config.deadline:g} s deadline, "
                f"after {len(self.parts)} chunk(s) (RAG_OPENAI_DEADLINE raises it)"
            )

    def take(self, chunk: object) -> str:
        """The text of ``chunk``; its finish reason and usage are kept. A wrong shape raises."""
        from openai.types.chat import ChatCompletionChunk
        from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

        if not isinstance(chunk, ChatCompletionChunk):
            raise self.malformed(f"a JSON {type(chunk).__name__} instead of an object")
        self.chunks += 1
        text = ""
        for choice in (self._field(chunk, "choices", list) or [])[:1]:  # we never ask n > 1
            if not isinstance(choice, Choice):
                raise self.malformed(f"a choice is {type(choice).__name__}, not an object")
            delta = self._field(choice, "delta", ChoiceDelta)
            text = (self._field(delta, "content", str) if delta is not None else None) or ""
            self.finish = self._field(choice, "finish_reason", str) or self.finish
        if chunk.usage is not None:
            self.usage.update(_usage_counts(chunk.usage))
        if text and len(self.parts) >= self.config.token_cap:
            raise self.cut(
                f"{self.where} sent more than the {self.config.token_cap} chunks of text one "
                "reply may have (RAG_OPENAI_TOKEN_CAP raises it)"
            )
        if text:
            self.parts.append(text)
            self.usage["chunks"] += 1
        return text

    def _field(self, obj: object, name: str, kind: type) -> Any:
        value = getattr(obj, name, None)  # the library leaves missing fields unset
        if value is not None and not isinstance(value, kind):
            raise self.malformed(f"{name!r} is {type(value).__name__}, not {kind.__name__}")
        return value

    def check_finish(self, max_tokens: int) -> None:
        if not self.chunks:
            raise BackendError(f"{self.where} sent no reply: {self.received} held no chunk")
        if self.finish is None:
            raise self.cut(
                f"{self.where} ended the stream without a finish_reason (the reply may be cut off)"
            )
        if self.finish == "length":
            raise self.cut(
                f"the reply from {self.where} hit the max_tokens limit ({max_tokens}); "
                "raise max_tokens or ask a shorter question"
            )
        if self.finish == "content_filter":
            raise self.cut(f"{self.where} stopped the reply by content filter")

    def cut(self, message: str) -> BackendError:
        """IncompleteResponse with the text so far; with no text there is no answer to show."""
        text = "".join(self.parts)
        return IncompleteResponse(message, partial=text) if text.strip() else BackendError(message)

    def malformed(self, problem: str) -> BackendError:
        return BackendError(
            f"malformed stream chunk from {self.where} after {len(self.parts)} chunk(s): {problem}"
        )


def describe_error(err: Exception, config: OpenAIConfig) -> BackendError:
    """Turn an ``openai`` exception into a one-line BackendError that names the server."""
    import openai

    where = _where(config)
    if isinstance(err, openai.APITimeoutError):
        seconds, variable = _silence_limit(config)
        return BackendError(
            f"{where} did not answer within the {seconds:g} s {_LIMIT_NAMES[variable]} "
            f"({variable} raises it)"
        )
    if isinstance(err, openai.APIConnectionError):
        cause = _one_line(str(err.__cause__ or err)) or "connection error"
        return BackendError(f"cannot reach {where}: {cause}")
    if isinstance(err, openai.APIStatusError):
        detail = (_server_message(err.body) or _one_line(err.message)) + _hint(err, config)
        return BackendError(f"{where} answered HTTP {err.status_code}: {detail}")
    return BackendError(f"{where} failed: {_one_line(str(err))}")


def _where(config: OpenAIConfig) -> str:
    return f"the OpenAI-compatible server at {public_url(config.base_url)}"


_LIMIT_NAMES = {"RAG_OPENAI_TIMEOUT": "timeout", "RAG_OPENAI_DEADLINE": "deadline"}


def _silence_limit(config: OpenAIConfig) -> tuple[float, str]:
    """How long the server may stay silent, and the variable that sets it."""
    if config.deadline < config.timeout:
        return config.deadline, "RAG_OPENAI_DEADLINE"
    return config.timeout, "RAG_OPENAI_TIMEOUT"


def _page_title(response: Any, limit: int = 16_384) -> str:
    """The ``<title>`` of the HTML page in ``response``, from its first ``limit`` bytes."""
    head = b""
    try:
        for block in response.iter_bytes():
            head += block
            if len(head) >= limit or b"</title>" in head.lower():
                break
    except Exception:  # the title only adds to the message; without it, it is still true
        pass
    found = re.search(rb"<title[^>]*>(.*?)</title>", head[:limit], re.I | re.S)
    return _one_line(found.group(1).decode("utf-8", "replace"), 80) if found else ""


def _hint(err: Any, config: OpenAIConfig) -> str:
    if err.status_code in (401, 403):
        return " (check the API key: RAG_OPENAI_API_KEY or OPENAI_API_KEY)"
    if err.status_code == 404:
        return f" (check the model name {config.model!r} and that the base URL ends in /v1)"
    return ""


def _server_message(body: object) -> str:
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        return _one_line(str(message)) if message else ""
    return _one_line(body) if isinstance(body, str) else ""


def _usage_counts(usage: Any) -> dict[str, int]:
    names = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {n: v for n in names if isinstance(v := getattr(usage, n, None), int)}


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
