"""The "OpenAI-compatible server" panel: the ``openai`` backend's settings, per session.

What a visitor types here (base URL, model, API key) lives only in the Textboxes and in
that browser session's :class:`SessionServer` (a ``gr.State``): never in a module
global, a file or the log; messages show the URL through
:func:`rag.llm.openai_config.public_url` and never the key. Empty fields fall back on
the ``RAG_OPENAI_*`` variables the server was started with::

    session = SessionServer()
    answerer = session.answerer_for("http://localhost:11434/v1", "llama3.2", "")
    answerer is session.answerer_for("http://localhost:11434/v1", "llama3.2", "")  # True
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import gradio as gr

from rag.answer.answerers import Answerer
from rag.answer.backends import BACKENDS
from rag.errors import ConfigError
from rag.llm.openai_backend import OpenAILLM
from rag.llm.openai_config import OpenAIConfig, public_url

TITLE = "OpenAI-compatible server"
ABOUT = (
    "For the **openai** backend: any OpenAI-compatible server (Ollama, vLLM, llama.cpp "
    "server, OpenAI). Kept for this browser tab only: never saved or logged."
)
NOT_CONFIGURED = (
    f"No OpenAI-compatible server is set up: fill in “{TITLE}” under Settings (base URL "
    "and model), or start the chat with RAG_OPENAI_BASE_URL and RAG_OPENAI_MODEL set."
)
URL_EXAMPLE = "http://localhost:11434/v1"


def server_panel() -> tuple[gr.Textbox, gr.Textbox, gr.Textbox]:
    """The collapsed panel's three fields: base URL, model, API key (a password field)."""
    with gr.Accordion(TITLE, open=False, elem_id="openai-panel"):
        gr.Markdown(ABOUT)
        base_url = gr.Textbox(label="Base URL", placeholder=URL_EXAMPLE, elem_id="openai-url",
                              max_lines=1)  # fmt: skip
        model = gr.Textbox(label="Model", placeholder="llama3.2", elem_id="openai-model",
                           max_lines=1)  # fmt: skip
        key = gr.Textbox(label="API key", placeholder="optional", type="password",
                         elem_id="openai-key", max_lines=1)  # fmt: skip
    return base_url, model, key


def panel_config(base_url: str, model: str, api_key: str) -> OpenAIConfig | None:
    """The panel's settings over the ``RAG_OPENAI_*`` ones; None when the panel is empty.

    >>> panel_config("", " ", "") is None
    True
    >>> panel_config("http://127.0.0.1:8080/v1", "toy", "sk-x").model
    'toy'
    """
    url, name, key = ((value or "").strip() for value in (base_url, model, api_key))
    if not (url or name or key):
        return None
    if url:
        check_url(url)
    return OpenAIConfig.from_env(base_url=url or None, model=name or None, api_key=key or None)


def check_url(url: str) -> None:
    """A ConfigError naming the Base URL field unless ``url`` is http(s)://host…"""
    parts = urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:  # a malformed IPv6 literal
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"Base URL ({TITLE}, in Settings) {public_url(url)!r:.80} is not a server address; "
            f"write it like {URL_EXAMPLE}"
        )


def env_configured() -> bool:
    """True when the server was started with its own OpenAI-compatible server set."""
    return any(os.environ.get(name, "").strip() for name in ("RAG_OPENAI_BASE_URL",
                                                             "RAG_OPENAI_MODEL"))  # fmt: skip


class SessionServer:
    """One browser session's panel settings and the answerer made from them.

    Kept in a ``gr.State`` (one per session), so a model object is made once per
    session and settings, not per question, and no session sees another's key.
    """

    def __init__(self) -> None:
        self.config: OpenAIConfig | None = None
        self.answerer: Answerer | None = None

    def __repr__(self) -> str:  # OpenAIConfig's repr hides the key and URL credentials
        return f"SessionServer({self.config!r})"

    def answerer_for(self, base_url: str, model: str, api_key: str) -> Answerer | None:
        """The answerer for these settings (made on first use); None for an empty panel."""
        config = panel_config(base_url, model, api_key)
        if config is None:
            return None
        if config != self.config or self.answerer is None:
            # The openai backend's answerer as rag.answer.backends makes it, over this server.
            self.config, self.answerer = config, BACKENDS["openai"](OpenAILLM(config), None)
        return self.answerer

    def hint(self, base_url: str, model: str, api_key: str) -> str:
        """What to set when the ``openai`` backend failed with nothing configured, else ""."""
        if env_configured() or any((v or "").strip() for v in (base_url, model, api_key)):
            return ""
        return NOT_CONFIGURED
