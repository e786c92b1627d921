"""Serve a GGUF model over HTTP with llama-cpp-python's own OpenAI-compatible server.

Plain ``python -m llama_cpp.server`` cannot load a model with the portable build
(``scripts/build_llama_cpp.py``): nothing loads a CPU variant, so llama.cpp has no
backend and fails with "Failed to load model from file". This runs the same server
after the two steps :class:`~rag.llm.local.LocalLLM` takes: the runtime self-check
(:func:`rag.llm.runtime.ensure_runs`: an unsupported CPU is one ``error:`` line, not a
crash) and :func:`rag.llm.runtime.load_backends`. Options pass through unchanged; when
absent, the bundled model is served as ``local`` on 127.0.0.1 with the GGUF's own chat
template. Needs the server's dependencies (``pip install -e '.[dev]'``)::

    $ python -m rag.llm.serve --port 8080 --n_ctx 4096
    $ RAG_OPENAI_BASE_URL=http://127.0.0.1:8080/v1 RAG_OPENAI_MODEL=local \\
        rag ask --backend openai "Who won the election?"
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rag.errors import RagError
from rag.llm import runtime
from rag.llm.gguf import model_path

ALIAS = "local"  # the model name the served model answers to (any name is served it)
_DEFAULTS = {
    "--host": "127.0.0.1",  # loopback: the server has no API key unless given one
    "--model_alias": ALIAS,
    "--chat_format": "chat_template.default",  # the template stored in the GGUF
}


def server_argv(args: Sequence[str]) -> list[str]:
    """``args`` with the bundled model and :data:`_DEFAULTS` added where not given.

    >>> server_argv(["--model", "m.gguf", "--port", "8080"])[:6]
    ['--model', 'm.gguf', '--port', '8080', '--host', '127.0.0.1']
    """
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    out = list(args)
    if "--model" not in given and "--config_file" not in given:
        out += ["--model", str(model_path())]
    for option, value in _DEFAULTS.items():
        if option not in given and "--config_file" not in given:
            out += [option, value]
    return out


def served_model(argv: Sequence[str]) -> Path | None:
    """The ``--model`` file in ``argv`` (None with a config file, which may name several)."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg.startswith("--model="):
            return Path(arg.split("=", 1)[1])
        if arg == "--model" and i + 1 < len(args):
            return Path(args[i + 1])
    return None


def prepare(model: Path | None) -> None:
    """Prove the runtime runs here with ``model``, then load its CPU backend."""
    if model is not None:
        done = runtime.ensure_runs(model)
        if done is not None and done.returncode != 0:
            raise RagError(f"the local model runtime test failed: {runtime.last_line(done.stderr)}")
    runtime.load_backends()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from llama_cpp.server.__main__ import main as serve
    except ImportError as err:  # fastapi, uvicorn, ... are in the dev extra
        needs = err.name or err
        print(f"error: the server needs {needs}; pip install -e '.[dev]'", file=sys.stderr)
        return 1
    if not {"-h", "--help"} & set(args):
        try:
            args = server_argv(args)
            prepare(served_model(args))
        except RagError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    sys.argv = ["python -m rag.llm.serve", *args]
    serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
