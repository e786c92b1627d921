"""The streamed text is the answer's text: one renumbering pass (rag.answer.citations.CitedText)."""

from __future__ import annotations

import random
import re

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.answer.citations import CitedText, resolve
from rag.llm.scripted import ScriptedLLM
from rag.text.refusals import REFUSAL
from rag.types import Answer, Hit

PASSAGES = [
    "Starmer hosted the summit in London on Sunday.",
    'Witkoff called the coalition "a posture and a pose".',
    "Drones hit a fuel depot in Russia overnight.",
]
HITS = [Hit(f"a:{i}", "a", "T", "x.txt", t, 0, len(t), 1.0) for i, t in enumerate(PASSAGES)]
TEXTS = [
    "Claim [3]. Other [1, 3]. Bad [8].",
    'Witkoff called the coalition "a posture and a pose" [1]. Drones hit a depot [1][1].',
    '[1] Witkoff called the coalition "a posture and a pose". [3] Drones hit a depot.',
    "- [2] Witkoff\n- [3, 1] Starmer and drones.",
    "Starmer met them in the U.S. The summit [1] was in London [1]. [2]",
    "  Troops left [9] Kabul in August [1].  ",
    "The ANSF [Afghan forces] collapsed [1]. Mr. Smith said no. [2] Then, at No. 10 [3]...",
    "[9] Only a dropped marker, then a claim [2].",
    "Drones hit a fuel depot in Russia overnight. Starmer hosted the summit [1]. Rain fell.",
    "Starmer hosted the summit in the U.S. Witkoff called the coalition a posture and a pose.",
    "- Starmer hosted the summit in London\n- Drones hit a fuel depot in Russia\nSo it went.",
    "[2] Drones hit a fuel depot in Russia overnight. Starmer hosted the summit in London.",
    "Starmer hosted it because [1] he wanted to. Drones hit a depot, the result of [3] a plan. [2]",
    "NATO has 2,951 jets, according to [3]. According to [2], Witkoff called it a pose.",
    "According to the notes, Starmer hosted it [1]. It was accordingly in London, a city [1].",
    "According to [1], Starmer hosted the summit [1]. Drones hit a depot according to [3] and [1].",
    "Starmer hosted the summit in London, [1]. Drones hit a fuel depot in Russia; [3]. Done, [9].",
    "Witkoff said: “It is a posture and a pose. [2] “ [1] Then “ drones” hit a depot. [3] ”",
]


def pieces_of(text: str, rng: random.Random) -> list[str]:
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 12))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.mark.parametrize("text", TEXTS)
def test_the_text_given_out_piece_by_piece_is_the_resolved_text(text: str) -> None:
    rng = random.Random(text)
    whole = resolve(text, HITS, repoint_citations=True)
    for pieces in [list(text), *(pieces_of(text, rng) for _ in range(30))]:
        cited = CitedText(HITS)
        given = "".join(cited.feed(p) for p in pieces) + cited.close()
        assert given == cited.text == whole.text
        assert cited.resolved() == whole


def test_markers_split_across_pieces_are_renumbered_whole() -> None:
    cited = CitedText(HITS[:2] + HITS[2:] * 3, repoint_citations=False)  # five sources
    out = [cited.feed(p) for p in ("Claim [", "3", "]. Other [1", ", 3]. Bad [8].")]
    assert "".join(out) + cited.close() == "Claim [1]. Other [1][2]. Bad."
    assert out[0] == "Claim"  # the words before a marker are given out at once


def test_a_marker_written_as_a_word_moves_to_its_sentence_end() -> None:
    text = "Starmer hosted the summit because [1] he wanted to. UK [1] and France lead [2]."
    assert resolve(text, HITS).text == (
        "Starmer hosted the summit because he wanted to. [1] UK [1] and France lead [2]."
    )


def test_a_marker_used_as_the_sources_name_goes_to_the_sentence_end() -> None:
    text = "Drones hit a fuel depot, according to [3]. According to [1], Starmer hosted the summit."
    expected = "Drones hit a fuel depot. [1] Starmer hosted the summit. [2]"
    assert resolve(text, HITS).text == expected
    cited = CitedText(HITS)
    shown = [cited.feed(word) for word in re.findall(r"\S+\s*", text)] + [cited.close()]
    assert "".join(shown) == expected  # "according to" was held back, never shown
    assert shown[0] == "Drones" and not any("ccording" in piece for piece in shown)


def test_a_comma_or_a_stray_quotation_mark_before_a_marker_is_not_left_in_the_answer() -> None:
    text = "Starmer hosted the summit, [1]. Witkoff said: “a posture and a pose. [2] “ [1]"
    expected = "Starmer hosted the summit. [1] Witkoff said: “a posture and a pose. [1][2]"
    resolved = resolve(text, HITS)
    assert resolved.text == expected
    assert not resolved.unsupported
    cited = CitedText(HITS)
    shown = [cited.feed(word) for word in re.findall(r"\S+\s*", text)] + [cited.close()]
    assert "".join(shown) == expected  # the stray mark was never shown, then taken back


def test_a_misattributed_claim_is_repointed_before_it_is_shown() -> None:
    cited = CitedText(HITS)
    first = cited.feed('Witkoff called the coalition "a posture and a pose" [1]. Next ')
    assert first == 'Witkoff called the coalition "a posture and a pose" [1]. Next'
    assert cited.resolved().citations[0].hit is HITS[1]  # [1] is now the passage it quotes


def test_an_uncited_claim_is_shown_at_once_and_its_marker_follows() -> None:
    cited = CitedText(HITS)
    assert cited.feed("Drones hit a fuel depot in Russia overnight.") == (
        "Drones hit a fuel depot in Russia overnight."
    )
    assert cited.feed(" Then") == ""  # held: the marker, if any, goes before it
    assert cited.feed(" it ended.") == " [1] Then it ended."
    assert cited.resolved().citations[0].hit is HITS[2]


def _kb_with(kb: rag.KnowledgeBase, reply: str) -> rag.KnowledgeBase:
    kb.use_answerer(LLMAnswerer(ScriptedLLM(reply)))
    return kb


def _streamed(kb: rag.KnowledgeBase, question: str) -> tuple[str, Answer]:
    items = list(kb.stream(question, backend="scripted"))
    answer = items[-1]
    assert isinstance(answer, Answer)
    return "".join(str(item) for item in items[:-1]), answer


@pytest.mark.parametrize(
    "reply",
    [
        'Steve Witkoff called the coalition "a posture and a pose" [4]. It was dismissed [2][9].',
        '[3] Steve Witkoff called the coalition "a posture and a pose". [1] Starmer disagreed.',
        "Witkoff spoke [2]\nand then [5] the U.S. envoy left. [1]",
    ],
)
def test_the_stream_and_the_answer_text_never_differ(
    own_hash_kb: rag.KnowledgeBase, reply: str
) -> None:
    kb = _kb_with(own_hash_kb, reply)
    streamed, answer = _streamed(kb, "What did Steve Witkoff call the coalition?")
    assert not answer.abstained
    assert streamed == answer.text


def test_an_abstained_answer_reads_the_refusal_whatever_was_streamed(
    own_hash_kb: rag.KnowledgeBase,
) -> None:
    """The one documented difference: a refusal in other words, or a marker alone."""
    for reply in ("I cannot find this in the sources.", "[2]"):
        streamed, answer = _streamed(_kb_with(own_hash_kb, reply), "Who won the 1966 World Cup?")
        assert answer.abstained and answer.text == REFUSAL
        assert streamed in (reply, REFUSAL, "[1]")
