"""Bad input anywhere it enters: a :class:`rag.errors.RagError` (a one-line message at the
edges), never another exception. Property-based: random bytes, control characters, huge
and empty strings, and random JSON thrown at each reader (issue 14).
"""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import rag
from rag.answer.question import MAX_QUESTION_CHARS, clean_question
from rag.errors import InputError, RagError
from rag.evaluation.records import UNSPECIFIED, load_questions, parse_question
from rag.ingest.articles import split_articles, strip_controls
from rag.paths import check_folder
from rag.types import Answer, Hit

# Huge generated strings are the point here; their repr in a failure report is not.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Nested past the recursion limit: json.loads raises RecursionError, not ValueError.
deep_json = st.integers(20_000, 100_000).map(lambda n: "[" * n + "]" * n)
long_digits = st.integers(4_400, 10_000).map(lambda n: "1" * n)  # int() refuses: ValueError

controls = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Co"])
texts = st.one_of(
    st.text(),
    st.text(controls),
    st.text(st.one_of(controls, st.characters()), min_size=1),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(600, 130_000)),
    st.sampled_from(["", " ", "\x00", "\x1b[2J", "\x1b]0;title\x07", "\ud800"]),
)
anything = st.one_of(texts, st.binary(), st.none(), st.integers(), st.lists(st.text()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def only_rag_errors(call: Callable[[], Any]) -> Any:
    """The result of ``call``, or None when it raised a RagError; anything else fails."""
    try:
        return call()
    except RagError as error:
        assert str(error)  # a message to show (the CLI and UI make it one line)
        return None


# --- the question -------------------------------------------------------------------------


@FEW
@given(anything)
def test_clean_question_returns_clean_text_or_a_rag_error(question: Any) -> None:
    cleaned = only_rag_errors(lambda: clean_question(question))
    if cleaned is not None:
        assert 0 < len(cleaned) <= MAX_QUESTION_CHARS and cleaned == cleaned.strip()
        assert cleaned.isprintable() or " " in cleaned


@FEW
@given(anything)
def test_search_checks_its_question_like_ask(hash_kb: rag.KnowledgeBase, question: Any) -> None:
    hits = only_rag_errors(lambda: hash_kb.search(question, k=3))
    assert hits is None or all(isinstance(h, Hit) for h in hits)
    refused_by_ask = only_rag_errors(lambda: clean_question(question)) is None
    assert (hits is None) == refused_by_ask  # one rule for both


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything, st.one_of(st.none(), st.lists(json_values, max_size=3)))
def test_ask_answers_or_raises_a_rag_error(
    hash_kb: rag.KnowledgeBase, question: Any, history: Any
) -> None:
    answer = only_rag_errors(lambda: hash_kb.ask(question, history, backend="extractive", k=3))
    assert answer is None or isinstance(answer, Answer)


def test_search_refuses_what_ask_refuses(hash_kb: rag.KnowledgeBase) -> None:
    for question, message in [(None, "must be text"), ("\x00\x1b\x7f", "empty"),
                              ("x" * 120_000, "120,000 characters")]:  # fmt: skip
        with pytest.raises(InputError, match=message):
            hash_kb.search(question)  # type: ignore[arg-type]


# --- the manifest -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_copy(hash_kb: rag.KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the hash index, whose manifest.json the tests overwrite."""
    target = tmp_path_factory.mktemp("manifest") / "ix"
    shutil.copytree(hash_kb.index_dir, target, ignore=shutil.ignore_patterns(".lock"))
    return target


def manifests(real: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Random bytes, random JSON, and the real manifest with one field replaced."""
    mutated = st.builds(lambda key, value: {**real, key: value},
                        st.sampled_from([*real, "extra"]), json_values)  # fmt: skip
    as_json = st.one_of(json_values, mutated).map(lambda v: json.dumps(v).encode())
    return st.one_of(st.binary(), as_json, deep_json.map(str.encode))


def test_a_damaged_manifest_is_a_rag_error(index_copy: Path) -> None:
    real = json.loads((index_copy / "manifest.json").read_text())

    @FEW
    @given(manifests(real))
    def load_with(data: bytes) -> None:
        (index_copy / "manifest.json").write_bytes(data)
        kb = only_rag_errors(lambda: rag.load(index_copy))
        if kb is not None:
            kb.store.close()

    load_with()


# --- the questions file -------------------------------------------------------------------

FIELDS = ["id", "question", "answerable", "answers", "evidence", "kind", "points", "history"]
records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))
lines = st.one_of(texts, records.map(json.dumps), deep_json, long_digits)


@FEW
@given(lines)
@example('{"id": "q1", "question": "\\u0001", "answerable": false}')
def test_a_questions_line_parses_or_is_an_input_error_naming_it(line: str) -> None:
    try:
        parse_question(line, 7)
    except InputError as error:
        assert str(error).startswith("questions line 7")


def encoded(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", "surrogatepass")  # a lone surrogate: bad UTF-8


@FEW
@given(st.one_of(st.binary(), st.lists(lines, max_size=4).map(encoded)))
def test_a_random_questions_file_loads_or_is_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("questions") / "q.jsonl"
    path.write_bytes(data)
    only_rag_errors(lambda: load_questions(path))


def test_the_minimal_format_needs_no_kind() -> None:
    line = ('{"id": "m1", "question": "Who?", "answerable": true, "answers": ["Esper"], '
            '"evidence": "Mark Esper admitted it"}')  # fmt: skip
    question = parse_question(line, 1)
    assert (question.kind, question.answers, question.article) == (UNSPECIFIED, ("Esper",), "")
    unanswerable = parse_question('{"id": "m2", "question": "Who?", "answerable": false}', 2)
    assert unanswerable.kind == UNSPECIFIED and not unanswerable.answerable


# --- paths and article text ---------------------------------------------------------------


def test_a_folder_without_permission_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-only case as root too (root may write anywhere): os.access says no."""
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)
    with pytest.raises(InputError, match=f"no permission to use {tmp_path}"):
        check_folder(tmp_path / "ix", "index folder", write=True)
    assert check_folder(tmp_path, "index folder", write=False) == tmp_path


@FEW
@given(st.text(st.one_of(controls, st.sampled_from("\x1b[]0;P\\\x07m2J \n"), st.characters())))
def test_strip_controls_leaves_no_control_character_but_line_breaks(text: str) -> None:
    stripped = strip_controls(text)
    assert all(ch in "\t\n\r" or unicodedata.category(ch) != "Cc" for ch in stripped)


def test_escape_sequences_are_stripped_at_ingest() -> None:
    page = "Budget\x1b]0;pwned\x07 passes\n\nThe council\x1b[2J\x1b[H approved it.\x9b2J Close."
    (article,) = split_articles(page, "a.txt")
    assert (article.title, article.text) == ("Budget passes", "The council approved it. Close.")
