"""``python -m rag.llm.serve``'s own logic, without a model: its defaults and its checks.

The server itself, on the real model, is tested in ``tests/test_llama_server.py`` (slow).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rag.errors import RuntimeCrash
from rag.llm import serve


def test_defaults_fill_only_what_is_not_given() -> None:
    args = serve.server_argv(["--model=m.gguf", "--host", "0.0.0.0", "--port", "8080"])
    assert args == [
        "--model=m.gguf",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--model_alias",
        serve.ALIAS,
        "--chat_format",
        "chat_template.default",
    ]


def test_a_config_file_gets_no_defaults() -> None:
    assert serve.server_argv(["--config_file", "models.yaml"]) == ["--config_file", "models.yaml"]


@pytest.mark.parametrize("args", [["--model", "m.gguf"], ["--model=m.gguf", "--port", "1"]])
def test_the_served_model_is_read_from_the_arguments(args: list[str]) -> None:
    assert serve.served_model(args) == Path("m.gguf")


def test_a_crashing_runtime_is_one_error_line_and_no_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(model: Path) -> None:
        raise RuntimeCrash("the local model runtime was killed by SIGILL: an illegal instruction")

    monkeypatch.setattr(serve.runtime, "ensure_runs", crash)
    monkeypatch.setattr(serve.runtime, "load_backends", pytest.fail)
    assert serve.main(["--model", "m.gguf", "--port", "1"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: the local model runtime was killed by SIGILL: an illegal instruction"
    ]


def test_a_failed_runtime_check_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = subprocess.CompletedProcess([], 1, "", "Traceback ...\nValueError: bad model file\n")
    monkeypatch.setattr(serve.runtime, "ensure_runs", lambda model: failed)
    assert serve.main(["--model", "m.gguf"]) == 1
    err = capsys.readouterr().err
    assert err == "error: the local model runtime test failed: ValueError: bad model file\n"
