"""The LLM citation judge: "Does the passage support the claim? Answer yes or no."

It runs beside the deterministic rule (:mod:`rag.evaluation.support`), through any
LLM backend (``--judge local`` or ``--judge openai``), so the report can show how
often the two agree.

>>> from rag.llm.scripted import ScriptedLLM
>>> LLMJudge(ScriptedLLM("Yes.")).supports("Kabul fell [1].", ["Kabul fell on Sunday."])
True
>>> parse_verdict("No, it does not."), parse_verdict("Maybe")
(False, None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from rag.answer.backends import LLMS
from rag.errors import ConfigError
from rag.llm.base import LLM, Message
from rag.text.markers import strip_markers

if TYPE_CHECKING:
    from rag.kb import KnowledgeBase

QUESTION = "Does the passage support the claim? Answer yes or no."
SYSTEM = "You check whether a news passage supports a claim. Reply with one word: yes or no."
OFF = ("", "none", "off")
LLM_BACKENDS = tuple(LLMS)
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


class Judge(Protocol):
    name: str

    def supports(self, claim: str, passages: Sequence[str]) -> bool | None:
        """True/False, or None when the reply is neither yes nor no."""
        ...


class LLMJudge:
    """Asks an :class:`~rag.llm.base.LLM` once per (claim, cited passages), greedily."""

    def __init__(self, llm: LLM, max_tokens: int = 4) -> None:
        self.llm = llm
        self.name = llm.name
        self.max_tokens = max_tokens  # "yes"/"no" and a full stop; more is chatter

    def supports(self, claim: str, passages: Sequence[str]) -> bool | None:
        messages = judge_messages(claim, passages)
        reply = "".join(self.llm.stream(messages, max_tokens=self.max_tokens, temperature=0.0))
        return parse_verdict(reply)


def judge_messages(claim: str, passages: Sequence[str]) -> list[Message]:
    """The cited passages joined as one passage, then the claim without its markers."""
    passage = "\n\n".join(" ".join(p.split()) for p in passages)
    user = f"Passage:\n{passage}\n\nClaim: {strip_markers(claim)}\n\n{QUESTION}"
    return [Message("system", SYSTEM), Message("user", user)]


def parse_verdict(reply: str) -> bool | None:
    """``"Yes."`` -> True, ``"no"`` -> False, anything else -> None."""
    match = _VERDICT.match(reply)
    return None if match is None else match.group(1).lower() == "yes"


def make_judge(kb: KnowledgeBase, name: str | None) -> LLMJudge | None:
    """The judge for ``--judge NAME``: None when off; the backend's LLM (loaded once) else."""
    if name is None or name.lower() in OFF:
        return None
    if name not in LLM_BACKENDS:
        known = ", ".join(["none", *LLM_BACKENDS])
        raise ConfigError(f"the judge must be an LLM backend, one of {known}; got {name!r}")
    return LLMJudge(kb.llm(name))  # shared with the answering backend: one model load
