"""The two systems of bench/peer.py: this project and LlamaIndex's defaults, same model.

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
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from rag.errors import RagError
from rag.evaluation.records import Question

RAG, PEER = "rag-news", "llamaindex"
BENCH_HINT = "the bench extra is not installed: pip install -e '.[bench]'"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


class MissingExtra(RagError):
    """The optional LlamaIndex packages of the ``bench`` extra are not installed."""


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
