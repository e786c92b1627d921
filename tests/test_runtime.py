"""The llama.cpp runtime: a portable build with no AMX, and native crashes as one-line errors.

A fake ``llama_cpp`` package that kills its own process with SIGILL on import
stands in for a runtime built for another CPU: the self-check's child imports it
and dies exactly as the real one did on AMX machines (killed by signal 4).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import RuntimeCrash
from rag.llm import runtime
from rag.llm.local import LocalLLM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sigill_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose child processes import a llama_cpp that dies by SIGILL."""
    package = tmp_path / "fake" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os, signal, sys\n"
        "sys.stderr.write('fake llama.cpp: about to execute tilezero\\n')\n"
        "os.kill(os.getpid(), signal.SIGILL)\n"
    )
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    env = {
        "PYTHONPATH": os.pathsep.join([str(package.parent), str(ROOT)]),
        "RAG_LOCAL_MODEL": str(model),
        "RAG_CACHE_DIR": str(tmp_path / "cache"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_a_signal_death_is_one_line_naming_cause_and_fix() -> None:
    message = runtime.signal_message(-signal.SIGILL, "x\nAMX is not ready to be used!\n")
    assert "\n" not in message
    assert "SIGILL" in message and "illegal instruction" in message
    assert "make runtime" in message
    assert "AMX is not ready to be used!" in message


def test_run_check_turns_a_child_killed_by_sigill_into_runtime_crash() -> None:
    command = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
    with pytest.raises(RuntimeCrash, match="killed by SIGILL"):
        runtime.run_check(command)


def test_run_check_returns_an_ordinary_failure_for_the_caller_to_report() -> None:
    done = runtime.run_check([sys.executable, "-c", "raise SystemExit('bad model file')"])
    assert done.returncode == 1 and "bad model file" in done.stderr


def test_selfcheck_command_stops_setup_with_one_line_on_sigill(
    sigill_runtime: dict[str, str],
) -> None:
    # What `make model` runs: it must fail, with one line, not a core dump.
    done = subprocess.run(
        [sys.executable, "-m", "rag.llm.runtime"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the local model runtime was killed by SIGILL")
    assert "make runtime" in lines[0]


def test_loading_the_local_model_reports_a_crashing_runtime_instead_of_dying(
    sigill_runtime: dict[str, str],
) -> None:
    # What `rag ask` and the chat meet: an error they show as one line; this process lives on.
    with pytest.raises(RuntimeCrash, match="killed by SIGILL"):
        LocalLLM().load()
    assert not (Path(sigill_runtime["RAG_CACHE_DIR"]) / "runtime-check.json").exists()


def test_a_passing_check_is_remembered_and_a_changed_model_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    calls: list[list[str]] = []

    def fake_check(command: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "ok", "")

    monkeypatch.setattr(runtime, "run_check", fake_check)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF1")
    assert runtime.ensure_runs(model) is not None
    assert runtime.ensure_runs(model) is None  # remembered
    model.write_bytes(b"GGUF22")
    assert runtime.ensure_runs(model) is not None  # a different file is checked again
    assert len(calls) == 2
    assert json.loads((tmp_path / "runtime-check.json").read_text())["key"]


def test_a_failed_check_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path))
    failing = lambda command: subprocess.CompletedProcess(command, 1, "", "ValueError")
    monkeypatch.setattr(runtime, "run_check", failing)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF1")
    runtime.ensure_runs(model)
    assert not (tmp_path / "runtime-check.json").exists()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to make an AMX object")
def test_the_amx_detector_finds_tile_instructions(tmp_path: Path) -> None:
    # Proves the check below can fail: an object with AMX code is caught.
    source = tmp_path / "tile.c"
    source.write_text(
        "#include <immintrin.h>\nvoid zero_tile(void) { _tile_zero(4); _tile_release(); }\n"
    )
    obj = tmp_path / "tile.o"
    subprocess.run(["gcc", "-c", "-mamx-tile", "-O1", str(source), "-o", str(obj)], check=True)
    found = runtime.amx_instructions(obj)
    assert any("tilezero" in line and "%tmm4" in line for line in found), found


def test_the_installed_llama_cpp_is_the_portable_build_without_amx() -> None:
    libraries = sorted(runtime.lib_dir().glob("libggml-cpu*.so"))
    names = {lib.name for lib in libraries}
    # The AVX2 baseline and the plain x86-64 fallback are there; the AMX variant is not.
    assert {"libggml-cpu-x64.so", "libggml-cpu-haswell.so"} <= names, names
    assert "libggml-cpu-sapphirerapids.so" not in names
    for library in libraries:
        assert runtime.amx_instructions(library) == [], library.name
    stamp = json.loads((runtime.lib_dir().parent / "rag_news_build.json").read_text())
    assert "-DGGML_NATIVE=OFF" in stamp["cmake_args"]


@pytest.mark.slow
def test_the_selfcheck_runs_the_real_model_here(tmp_path: Path) -> None:
    env = dict(os.environ, RAG_CACHE_DIR=str(tmp_path))
    env.pop("RAG_LOCAL_MODEL", None)
    # The bundled model is assembled in the usual cache; point the check at it.
    from rag.llm.gguf import model_path

    done = subprocess.run(
        [*runtime.check_command(model_path())], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("llama.cpp runs here:")
    assert "AMX_INT8 = 1" not in done.stdout
