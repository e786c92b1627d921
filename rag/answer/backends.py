"""Answer backends by name: ``local`` (llama.cpp), ``openai``, ``extractive``.

A registry is a plain dict of name -> factory; an unknown name lists the known ones.
The backend is chosen by argument, else ``$RAG_BACKEND``, else ``local``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rag.answer.answerers import Answerer, LLMAnswerer
from rag.errors import ConfigError
from rag.index.embedders import Embedder
from rag.llm.base import LLM


def _local_llm() -> LLM:
    from rag.llm.local import LocalLLM

    return LocalLLM()


def _openai_llm() -> LLM:
    from rag.llm.openai_backend import OpenAIConfig, OpenAILLM

    return OpenAILLM(OpenAIConfig.from_env())


def _extractive(llm: LLM | None, embedder: Embedder | None = None) -> Answerer:
    from rag.answer.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(embedder=embedder)


def _openai(llm: LLM | None, embedder: Embedder | None = None) -> Answerer:
    return LLMAnswerer(llm or _openai_llm())


def _local(llm: LLM | None, embedder: Embedder | None = None) -> Answerer:
    # Evidence first (rag.answer.evidence): the model reads the best sentences of the passages,
    # not whole passages (slow on 2 cores) nor passages trimmed by shared words (which cut
    # the answering sentence), and answers without a refusal exit (README, "Answering").
    return LLMAnswerer(llm or _local_llm(), evidence_first=True, min_p_yes=LOCAL_MIN_P_YES)


# Calibrated on the tuning half of eval/questions.jsonl (even ids; README, "Answering"):
# the highest threshold, in steps of 0.05, that keeps false refusals of answerable
# questions at or under 5%. With one title per article in the prompt (rag.answer.prompt)
# 0.45 refused 5 of 83 there and 0.40 one, catching the same 15 of 17 unanswerable ones.
LOCAL_MIN_P_YES = 0.40

# The chat models behind the LLM backends, by backend name; the evaluation's judge asks
# the same model object the answerer uses (one load), through KnowledgeBase.llm.
LLMS: dict[str, Callable[[], LLM]] = {"local": _local_llm, "openai": _openai_llm}

# name -> factory taking that backend's LLM (None: make one; ignored by extractive) and the
# index's embedder (the extractive backend ranks sentences by meaning with it; optional).
BACKENDS: dict[str, Callable[[LLM | None, Embedder | None], Answerer]] = {
    "local": _local,
    "openai": _openai,
    "extractive": _extractive,
}
DEFAULT_BACKEND = "local"


def backend_name(name: str | None = None) -> str:
    chosen = name or os.environ.get("RAG_BACKEND") or DEFAULT_BACKEND
    if chosen not in BACKENDS:
        raise ConfigError(f"unknown backend {chosen!r}: choose one of {', '.join(BACKENDS)}")
    return chosen
