"""One flat exception hierarchy with a single root.

The CLI and the UI catch ``RagError`` and show its message as one line; anything
else is a bug and is allowed to raise.
"""

from __future__ import annotations


class RagError(Exception):
    """Root of every error this package raises on purpose."""


class InputError(RagError):
    """A question, path or argument the user gave is not usable."""


class ConfigError(RagError):
    """A setting (backend name, model path, URL, ...) is unknown or invalid."""


class IndexNotFound(RagError):
    """There is no index where one was asked for."""


class IndexMismatch(RagError):
    """The index on disk was made with another embedder, dimension or format."""


class IndexCorrupt(RagError):
    """A file of the index is missing, fails its checksum or is of the wrong kind, the
    manifest breaks its schema, or the files disagree with each other."""


class ModelNotFound(RagError):
    """A model file or package is not installed."""


class BackendError(RagError):
    """An LLM backend failed: server down, timeout, HTTP error, malformed stream."""


class IncompleteResponse(BackendError):
    """The backend stopped before saying it was finished; ``partial`` holds what came."""

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class RuntimeCrash(BackendError):
    """The native model runtime died (a signal such as SIGILL) or cannot run on this CPU."""


class EngineError(RagError):
    """The indexing engine failed as a whole (a Ray worker or stage died); nothing was
    committed."""
