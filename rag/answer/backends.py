"""Answer backends by name: ``local`` (llama.cpp), ``openai``, ``extractive``.

A registry is a plain dict of name -> factory; an unknown name lists the known ones.
The backend is chosen by argument, else ``$RAG_BACKEND``, else ``local``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rag.answer.answerers import Answerer, LLMAnswerer
from rag.errors import ConfigError


def _extractive() -> Answerer:
    from rag.answer.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


def _openai() -> Answerer:
    from rag.llm.openai_backend import OpenAIConfig, OpenAILLM

    return LLMAnswerer(OpenAILLM(OpenAIConfig.from_env()))


def _local() -> Answerer:
    from rag.llm.local import LocalLLM

    # Evidence first (rag.answer.evidence): the model reads the best sentences of the passages,
    # not whole passages (slow on 2 cores) nor passages trimmed by shared words (which cut
    # the answering sentence), and answers without a refusal exit (README, "Answering").
    return LLMAnswerer(LocalLLM(), evidence_first=True, min_p_yes=LOCAL_MIN_P_YES)


# Calibrated on the tuning half of eval/questions.jsonl (even ids; README, "Answering"):
# the lowest threshold that kept false refusals of answerable questions at or under 5%.
LOCAL_MIN_P_YES = 0.45


BACKENDS: dict[str, Callable[[], Answerer]] = {
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


def make_answerer(name: str | None = None) -> Answerer:
    return BACKENDS[backend_name(name)]()
