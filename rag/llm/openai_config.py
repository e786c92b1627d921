"""Settings of the ``openai`` backend: :class:`OpenAIConfig`, read from ``RAG_OPENAI_*``.

Credentials written into the base URL (``https://user:password@host/v1``, for a server
behind a proxy with basic auth) are a secret like the API key: :func:`split_credentials`
takes them out of the URL the HTTP client sees (so no library logs them) and
:func:`public_url` is the only form of the URL that goes into messages.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from rag.errors import ConfigError


@dataclass(frozen=True, repr=False)
class OpenAIConfig:
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    api_key: str = ""  # empty -> "not-needed" is sent (local servers ignore it)
    timeout: float = 60.0  # seconds, explicit: the library's default read timeout is 600 s
    max_retries: int = 1  # explicit: the library's default is 2
    # A server may dribble tokens forever, each inside the timeout, or ignore max_tokens:
    deadline: float = 300.0  # seconds from the request to the end of the reply
    token_cap: int = 2048  # content pieces (a token or more each) accepted from one reply

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"OpenAI base URL {public_url(self.base_url)!r} must start with http:// or "
                "https://, e.g. http://localhost:11434/v1"
            )
        if not self.model:
            raise ConfigError("OpenAI model name is empty; give one, e.g. 'gpt-4o-mini'")
        for name in ("timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"OpenAI {name} {getattr(self, name)!r} must be seconds > 0")
        if self.max_retries < 0:
            raise ConfigError(f"OpenAI max_retries {self.max_retries!r} must be 0 or more")
        if self.token_cap < 1:
            raise ConfigError(f"OpenAI token_cap {self.token_cap!r} must be 1 or more")

    def __repr__(self) -> str:
        """Like the dataclass's, with the API key and the URL's credentials hidden.

        >>> config = OpenAIConfig("http://me:pw@localhost:8080/v1", api_key="sk-secret")
        >>> repr(config)[:73]
        "OpenAIConfig(base_url='http://***@localhost:8080/v1', model='gpt-4o-mini'"
        >>> "pw" in repr(config) or "sk-secret" in repr(config)
        False
        """
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["base_url"] = public_url(self.base_url)
        shown["api_key"] = "***" if self.api_key else ""
        return f"OpenAIConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

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


_DEFAULT = OpenAIConfig()
ENV_HELP = f"""\
The openai backend reads RAG_OPENAI_BASE_URL (default {_DEFAULT.base_url}),
RAG_OPENAI_MODEL ({_DEFAULT.model}), RAG_OPENAI_API_KEY or OPENAI_API_KEY,
RAG_OPENAI_TIMEOUT ({_DEFAULT.timeout:g}: seconds the server may stay silent),
RAG_OPENAI_RETRIES ({_DEFAULT.max_retries}), RAG_OPENAI_DEADLINE ({_DEFAULT.deadline:g}: \
seconds one reply may take in all)
and RAG_OPENAI_TOKEN_CAP ({_DEFAULT.token_cap}: chunks of text accepted from one reply);
past the deadline or the cap the answer ends marked incomplete."""

_TEXTS = {"RAG_OPENAI_BASE_URL": "base_url", "RAG_OPENAI_MODEL": "model"}
_NUMBERS: dict[str, tuple[str, type[float] | type[int]]] = {
    "RAG_OPENAI_TIMEOUT": ("timeout", float),
    "RAG_OPENAI_RETRIES": ("max_retries", int),
    "RAG_OPENAI_DEADLINE": ("deadline", float),
    "RAG_OPENAI_TOKEN_CAP": ("token_cap", int),
}


def _env_values() -> dict[str, Any]:
    env = {k: v.strip() for k, v in os.environ.items() if k.startswith(("RAG_OPENAI_", "OPENAI_"))}
    values: dict[str, Any] = {name: env[var] for var, name in _TEXTS.items() if env.get(var)}
    for variable, (name, kind) in _NUMBERS.items():
        if env.get(variable):
            values[name] = _number(variable, env[variable], kind)
    key = env.get("RAG_OPENAI_API_KEY") or env.get("OPENAI_API_KEY")
    if key:
        values["api_key"] = key
    return values


def _number(variable: str, raw: str, kind: type[float] | type[int]) -> float:
    try:
        return kind(raw)
    except ValueError:
        wanted = "a number of seconds, e.g. 60 or 2.5" if kind is float else "a whole number >= 0"
        raise ConfigError(f"{variable}={raw!r} is not {wanted}") from None


def public_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``: safe to print or log.

    >>> public_url("https://alice:s3cret@llm.example/v1")
    'https://***@llm.example/v1'
    >>> public_url("http://localhost:11434/v1")
    'http://localhost:11434/v1'
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its credentials, and the basic-auth header that carries them instead.

    >>> split_credentials("http://alice:pa%40ss@localhost:8080/v1")
    ('http://localhost:8080/v1', {'Authorization': 'Basic YWxpY2U6cGFAc3M='})
    >>> split_credentials("http://localhost:8080/v1")
    ('http://localhost:8080/v1', {})
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    # Sent as the Authorization header, as httpx does for a URL with credentials; it
    # takes the place of the API key's Bearer header, as it did then.
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": f"Basic {token}"}
