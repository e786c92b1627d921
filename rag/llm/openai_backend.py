"""The ``openai`` backend: any OpenAI-compatible chat-completions server.

OpenAI itself, Ollama (``http://localhost:11434/v1``), vLLM or the llama.cpp server,
through the ``openai`` package. Every failure becomes a one-line
:class:`~rag.errors.BackendError` naming the server; a stream that stops before the
server says it finished raises :class:`~rag.errors.IncompleteResponse`.

Example::

    llm = OpenAILLM(OpenAIConfig(base_url="http://localhost:11434/v1", model="llama3.2"))
    print("".join(llm.stream([Message("user", "Say hi")], max_tokens=20)))
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from rag.errors import BackendError, ConfigError, IncompleteResponse
from rag.llm.base import Message

if TYPE_CHECKING:  # importing openai costs ~0.7 s; do it on first use only
    from openai import OpenAI
    from openai.types.chat import ChatCompletionChunk


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key: str = ""  # empty -> "not-needed" is sent (local servers ignore it)
    timeout: float = 60.0  # seconds, explicit: the library's default read timeout is 600 s
    max_retries: int = 1  # explicit: the library's default is 2

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"OpenAI base URL {self.base_url!r} must start with http:// or https://, "
                "e.g. http://localhost:11434/v1"
            )
        if not self.model:
            raise ConfigError("OpenAI model name is empty; give one, e.g. 'gpt-4o-mini'")
        if not self.timeout > 0:
            raise ConfigError(f"OpenAI timeout {self.timeout!r} must be a number of seconds > 0")
        if self.max_retries < 0:
            raise ConfigError(f"OpenAI max_retries {self.max_retries!r} must be 0 or more")

    @classmethod
    def from_env(cls, **overrides: object) -> OpenAIConfig:
        """Read ``RAG_OPENAI_*`` variables; overrides that are not None win.

        >>> OpenAIConfig.from_env(model="llama3.2", timeout=None).model
        'llama3.2'
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown OpenAI setting(s) {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = _env_values()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _env_values() -> dict[str, Any]:
    env = {k: v.strip() for k, v in os.environ.items() if k.startswith(("RAG_OPENAI_", "OPENAI_"))}
    values: dict[str, Any] = {}
    if env.get("RAG_OPENAI_BASE_URL"):
        values["base_url"] = env["RAG_OPENAI_BASE_URL"]
    if env.get("RAG_OPENAI_MODEL"):
        values["model"] = env["RAG_OPENAI_MODEL"]
    key = env.get("RAG_OPENAI_API_KEY") or env.get("OPENAI_API_KEY")
    if key:
        values["api_key"] = key
    if env.get("RAG_OPENAI_TIMEOUT"):
        values["timeout"] = _number("RAG_OPENAI_TIMEOUT", env["RAG_OPENAI_TIMEOUT"], float)
    if env.get("RAG_OPENAI_RETRIES"):
        values["max_retries"] = _number("RAG_OPENAI_RETRIES", env["RAG_OPENAI_RETRIES"], int)
    return values


def _number(variable: str, raw: str, kind: type[float] | type[int]) -> float:
    try:
        return kind(raw)
    except ValueError:
        wanted = "a number of seconds, e.g. 60 or 2.5" if kind is float else "a whole number >= 0"
        raise ConfigError(f"{variable}={raw!r} is not {wanted}") from None


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
            self._client = OpenAI(
                base_url=cfg.base_url,
                api_key=cfg.api_key or "not-needed",  # the library refuses an empty key
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
            )
        return self._client

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1; got {max_tokens!r}")
        self.last_usage = {"chunks": 0}
        chunks = self._open(messages, max_tokens, temperature)
        parts: list[str] = []
        finish: str | None = None
        for chunk in self._checked(chunks, parts):
            for choice in chunk.choices[:1]:  # we never ask for n > 1
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                    self.last_usage["chunks"] += 1
                    yield choice.delta.content
                finish = choice.finish_reason or finish
            if chunk.usage is not None:
                self.last_usage.update(_usage_counts(chunk.usage))
        self._check_finish(finish, "".join(parts), max_tokens)

    def _open(
        self, messages: Sequence[Message], max_tokens: int, temperature: float
    ) -> Iterator[ChatCompletionChunk]:
        import openai

        # Plain dicts: the library's TypedDicts per role would only restate base.Message.
        history: Any = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return iter(
                self._get_client().chat.completions.create(
                    model=self.config.model,
                    messages=history,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    # Servers that do not know it ignore it; the rest report token usage.
                    stream_options={"include_usage": True},
                )
            )
        except openai.OpenAIError as err:
            raise describe_error(err, self.config) from err

    def _checked(
        self, chunks: Iterator[ChatCompletionChunk], parts: list[str]
    ) -> Iterator[ChatCompletionChunk]:
        """Pass chunks through, turning mid-stream failures into BackendErrors."""
        import openai

        where = _where(self.config)
        try:
            yield from chunks
        except openai.APITimeoutError as err:
            raise IncompleteResponse(
                f"{where} went silent for more than the {self.config.timeout:g} s timeout "
                f"after {len(parts)} chunk(s) (RAG_OPENAI_TIMEOUT raises it)",
                partial="".join(parts),
            ) from err
        except openai.APIConnectionError as err:
            cause = _one_line(str(err.__cause__ or err))
            raise IncompleteResponse(
                f"{where} dropped the connection after {len(parts)} chunk(s): {cause}",
                partial="".join(parts),
            ) from err
        except openai.OpenAIError as err:  # an error event inside the stream
            raise describe_error(err, self.config) from err
        except Exception as err:  # the library lets json.JSONDecodeError & co. escape
            raise BackendError(
                f"malformed stream chunk from {where} after {len(parts)} chunk(s): "
                f"{_one_line(str(err))}"
            ) from err

    def _check_finish(self, finish: str | None, text: str, max_tokens: int) -> None:
        where = _where(self.config)
        if finish is None:
            raise IncompleteResponse(
                f"{where} ended the stream without a finish_reason (the reply may be cut off)",
                partial=text,
            )
        if finish == "length":
            raise IncompleteResponse(
                f"the reply from {where} hit the max_tokens limit ({max_tokens}); "
                "raise max_tokens or ask a shorter question",
                partial=text,
            )
        if finish == "content_filter":
            raise IncompleteResponse(f"{where} stopped the reply by content filter", text)


def describe_error(err: Exception, config: OpenAIConfig) -> BackendError:
    """Turn an ``openai`` exception into a one-line BackendError that names the server."""
    import openai

    where = _where(config)
    if isinstance(err, openai.APITimeoutError):
        return BackendError(
            f"{where} did not answer within the {config.timeout:g} s timeout "
            "(RAG_OPENAI_TIMEOUT raises it)"
        )
    if isinstance(err, openai.APIConnectionError):
        cause = _one_line(str(err.__cause__ or err)) or "connection error"
        return BackendError(f"cannot reach {where}: {cause}")
    if isinstance(err, openai.APIStatusError):
        detail = (_server_message(err.body) or _one_line(err.message)) + _hint(err, config)
        return BackendError(f"{where} answered HTTP {err.status_code}: {detail}")
    return BackendError(f"{where} failed: {_one_line(str(err))}")


def _where(config: OpenAIConfig) -> str:
    return f"the OpenAI-compatible server at {config.base_url}"


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
