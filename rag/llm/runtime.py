"""The llama.cpp runtime: choosing its CPU code, and proving it runs before we rely on it.

llama-cpp-python is built by ``scripts/build_llama_cpp.py`` as one ``libggml-cpu-<variant>.so``
per CPU generation; :func:`load_backends` asks ggml to load the best one the running
CPU supports (no variant has AMX). A native crash inside llama.cpp (an illegal
instruction, say) kills the whole Python process with no message, so before the
first load on a machine :func:`ensure_runs` runs one short generation in a child
process; a child killed by a signal becomes one :class:`~rag.errors.RuntimeCrash`
line that names the cause and the fix. A passing check is remembered in
``$RAG_CACHE_DIR/runtime-check.json``, keyed by the library files, the model file
and the CPU's flags, so it costs about 3 s once per machine and build.

Set-up runs it directly (``make model``)::

    $ python -m rag.llm.runtime
    llama.cpp runs here: CPU : SSE3 = 1 | ... | AVX512 = 1 | ... (12 tokens in 2.1 s)
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

from rag.errors import ModelNotFound, RagError, RuntimeCrash
from rag.llm.gguf import cache_dir, model_path

CHECK_TIMEOUT = 300.0  # seconds; a first load from a cold disk can take a while
_FIX = (
    "rebuild it for any x86-64 CPU with `make runtime` "
    "(scripts/build_llama_cpp.py: per-CPU variants, no AMX), then retry"
)
_backends_loaded = False


def lib_dir() -> Path:
    """The folder of llama-cpp-python's shared libraries (found without importing it)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ModelNotFound("llama-cpp-python is not installed; run `make setup`")
    return Path(spec.origin).parent / "lib"


def load_backends() -> None:
    """Load the best ggml CPU variant for this CPU (idempotent; call before ``Llama()``).

    A build without per-CPU variants has its CPU code linked in; then this finds
    nothing to load and changes nothing.
    """
    global _backends_loaded
    if _backends_loaded:
        return
    import llama_cpp  # noqa: F401  (loads libllama and routes ggml's log to a Python logger)

    # Unset, that logger prints every INFO line ("load_backend: loaded CPU backend ...").
    quiet = logging.getLogger("llama-cpp-python")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.ERROR)
    folder = lib_dir()
    ggml = ctypes.CDLL(str(linked_ggml(folder)))
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path(str(folder).encode())
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_dev_count() == 0:
        raise RuntimeCrash(f"no llama.cpp CPU backend in {folder} runs on this CPU; {_FIX}")
    _backends_loaded = True


# AMX's tile instructions all name a tile register (%tmm0-7) or the tile configuration.
_AMX = re.compile(r"%tmm\d|\b(?:ldtilecfg|sttilecfg|tilerelease)\b")


def amx_instructions(library: Path) -> list[str]:
    """The AMX instructions in a shared library or object file, by disassembly (objdump)."""
    try:
        done = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(library)],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        raise RagError(f"could not disassemble {library}: {err}") from err
    return [line.strip() for line in done.stdout.splitlines() if _AMX.search(line)]


def linked_ggml(folder: Path) -> Path:
    """The libggml file that libllama links to, so both see one backend registry.

    Wheels hold copies, not symlinks: ``libggml.so`` and ``libggml.so.0`` are two
    files, and loading backends into the wrong one leaves llama.cpp with none.
    libllama needs the soname ``libggml.so.<major>``: the shortest ``libggml.so.*``.
    """
    versioned = sorted(folder.glob("libggml.so.*"), key=lambda p: len(p.name))
    return versioned[0] if versioned else folder / "libggml.so"


def signal_message(returncode: int, stderr: str = "") -> str:
    """One line for a child that died: the signal, what it usually means, and the fix."""
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    cause = {
        "SIGILL": "an illegal instruction: llama.cpp was built for another CPU "
        "(or uses AMX, which this machine does not really allow)",
        "SIGSEGV": "a segmentation fault inside llama.cpp",
        "SIGBUS": "a bus error inside llama.cpp (a truncated or changed model file?)",
        "SIGKILL": "it was killed from outside (out of memory?)",
    }.get(name, "a crash inside llama.cpp")
    last = last_line(stderr)
    detail = f" (its last words: {last[:160]})" if last else ""
    return f"the local model runtime was killed by {name}: {cause}{detail}; {_FIX}"


def last_line(text: str) -> str:
    """The last non-blank line of a child's output, stripped ("" when there is none)."""
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")


def run_check(command: Sequence[str], timeout: float = CHECK_TIMEOUT) -> CompletedProcess[str]:
    """Run a check command in a child; RuntimeCrash if it dies by a signal or hangs.

    An ordinary failure (a bad model file, say) is returned, not raised: loading in
    this process then reports it with its own, more precise, message.
    """
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise RuntimeCrash(
            f"the local model runtime did not finish a 12-token test in {timeout:g} s; "
            "the machine may be overloaded, or the runtime hangs here"
        ) from err
    if done.returncode < 0:
        raise RuntimeCrash(signal_message(done.returncode, done.stderr))
    return done


def check_command(model: Path) -> list[str]:
    return [sys.executable, "-m", "rag.llm.runtime", "--child", str(model)]


def ensure_runs(model: Path, *, force: bool = False) -> CompletedProcess[str] | None:
    """Prove (once per machine, build and model) that llama.cpp runs here; RuntimeCrash if not.

    Returns the child's result, or None when an earlier check already vouches.
    """
    record = cache_dir() / "runtime-check.json"
    key = fingerprint(model)
    if not force and _recorded(record) == key:
        return None
    done = run_check(check_command(model))
    if done.returncode == 0:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({"key": key}) + "\n", encoding="utf-8")
        except OSError:
            pass  # unrecorded: the next start checks again, slower but still right
    return done


def _recorded(record: Path) -> str | None:
    try:
        return str(json.loads(record.read_text(encoding="utf-8"))["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fingerprint(model: Path) -> str:
    """Hash of what decides whether the runtime works: library files, model file, CPU flags."""
    parts = [_cpu_flags()]
    for path in [*sorted(lib_dir().glob("*.so*")), model]:
        stat = path.stat()
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return os.uname().machine
    return next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")


def child(model: Path) -> None:
    """The child side: load the model and generate from a prompt long enough to batch."""
    import llama_cpp
    from llama_cpp import Llama

    load_backends()

    started = time.perf_counter()
    llama = Llama(model_path=str(model), n_ctx=512, n_threads=os.cpu_count() or 1, verbose=False)
    # ~150 prompt tokens: prompt processing takes the batched matrix path, where AMX was.
    prompt = "Passage: " + "The coalition met in Paris to discuss the ceasefire. " * 14
    out: Any = llama.create_completion(prompt + "\nSummary:", max_tokens=12, temperature=0.0)
    llama.close()
    info = llama_cpp.llama_print_system_info().decode().strip()
    took = time.perf_counter() - started
    tokens = out["usage"]["completion_tokens"]
    print(f"llama.cpp runs here: {info} ({tokens} tokens in {took:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    """``--child MODEL`` runs the check itself; no arguments checks the default model."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"] and len(args) == 2:
        child(Path(args[1]))
        return 0
    if args:  # --help included: say what this does rather than run it
        print("usage: python -m rag.llm.runtime   (checks that the local model runs on this CPU)")
        return 0 if args[0] in ("-h", "--help") else 2
    try:
        done = ensure_runs(model_path(), force=True)
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    assert done is not None  # force=True always runs the child
    if done.returncode != 0:
        why = last_line(done.stderr)
        print(f"error: the local model runtime test failed: {why}", file=sys.stderr)
        return 1
    print(done.stdout.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
