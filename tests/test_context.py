from __future__ import annotations

import pytest

from rag.answer.answerers import LLMAnswerer
from rag.answer.budget import fit_hits, prompt_tokens, trim_hit
from rag.answer.prompt import build_messages
from rag.errors import InputError
from rag.llm.scripted import ScriptedLLM
from rag.types import Hit


def _hit(i: int, text: str) -> Hit:
    return Hit(f"a:{i}", "a", f"Title {i}", "s.txt", text, 0, len(text), 1.0 - i / 10)


FILLER = " ".join(f"The committee met on day {n} and discussed procedure." for n in range(40))
HITS = [_hit(0, "Witkoff called the coalition a posture and a pose. " + FILLER)] + [
    _hit(i, FILLER) for i in range(1, 6)
]


def test_a_prompt_over_budget_loses_its_lowest_ranked_passages() -> None:
    whole = prompt_tokens(build_messages("What did Witkoff say?", HITS))
    shown = fit_hits("What did Witkoff say?", HITS, (), budget=whole // 2)
    assert 1 <= len(shown) < len(HITS)
    assert shown == HITS[: len(shown)]  # the tail goes, so [n] still means HITS[n-1]
    assert prompt_tokens(build_messages("What did Witkoff say?", shown)) <= whole // 2


def test_trimming_keeps_the_sentence_that_answers() -> None:
    trimmed = trim_hit(HITS[0], "What did Witkoff call the coalition?", max_tokens=30)
    assert trimmed.text.startswith("Witkoff called the coalition a posture and a pose.")
    assert len(trimmed.text) < len(HITS[0].text) // 5
    assert (trimmed.chunk_id, trimmed.start, trimmed.end) == (
        HITS[0].chunk_id,
        0,
        len(HITS[0].text),
    )


def test_the_answerer_sends_a_prompt_that_fits() -> None:
    llm = ScriptedLLM("A posture and a pose [1].")
    answerer = LLMAnswerer(llm, max_tokens=64, context_tokens=1024, trim_tokens=60)
    assert (
        "".join(answerer.stream("What did Witkoff call it?", HITS)) == "A posture and a pose [1]."
    )
    assert prompt_tokens(llm.calls[0]) <= 1024 - 64
    assert "a posture and a pose" in llm.calls[0][-1].content


def test_context_must_exceed_the_answer_length() -> None:
    with pytest.raises(InputError, match="must exceed"):
        LLMAnswerer(ScriptedLLM("x"), max_tokens=512, context_tokens=512)
