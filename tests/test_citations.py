"""Citation markers: parsing, renumbering, dropping, uncited claims, sentence splitting."""

from __future__ import annotations

import pytest

from rag.answer.citations import resolve
from rag.answer.repoint import repoint, support
from rag.text.markers import markers_after_claims
from rag.text.refusals import REFUSAL
from rag.text.sentences import split_sentences
from rag.types import Hit


def hits(n: int) -> list[Hit]:
    return [
        Hit(f"art{i}:{i}", f"art{i}", f"Title {i}", f"{i}.txt", f"text {i}", 0, 6, 1.0 / i)
        for i in range(1, n + 1)
    ]


def test_renumbers_by_first_appearance_and_drops_numbers_pointing_nowhere() -> None:
    h = hits(3)
    r = resolve("Troops were sent [3]. They stayed for twenty years [1, 7].", h)
    assert r.text == "Troops were sent [1]. They stayed for twenty years [2]."
    assert r.dropped == [7]
    assert [(c.n, c.hit) for c in r.citations] == [(1, h[2]), (2, h[0])]
    assert r.unsupported == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It rose [2].", "It rose [1]."),
        ("It rose [2, 3].", "It rose [1][2]."),
        ("It rose [2,3].", "It rose [1][2]."),
        ("It rose [2][3].", "It rose [1][2]."),
        ("It rose [2] [3].", "It rose [1][2]."),
        ("It rose [ 2 ].", "It rose [1]."),
        ("It rose [Source 2].", "It rose [1]."),
        ("It rose [2-3].", "It rose [1][2]."),
        ("It rose [2][2].", "It rose [1]."),
    ],
)
def test_marker_forms_become_canonical(raw: str, expected: str) -> None:
    h = hits(3)
    r = resolve(raw, h)
    assert r.text == expected
    assert r.citations[0].hit == h[1]
    assert r.dropped == []


def test_a_group_is_renumbered_in_the_order_written() -> None:
    h = hits(3)
    r = resolve("It rose [3, 2]. It fell [2].", h)
    assert r.text == "It rose [1][2]. It fell [2]."
    assert [c.hit for c in r.citations] == [h[2], h[1]]


def test_the_same_source_cited_twice_keeps_one_number() -> None:
    h = hits(4)
    r = resolve("Drones hit refineries [4]. Ukraine makes more [2]. Russia struggles [4].", h)
    assert r.text == "Drones hit refineries [1]. Ukraine makes more [2]. Russia struggles [1]."
    assert [c.hit.chunk_id for c in r.citations] == ["art4:4", "art2:2"]
    assert [c.n for c in r.citations] == [1, 2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Troops left Kabul [9].", "Troops left Kabul."),
        ("Troops left Kabul [9], then returned [1].", "Troops left Kabul, then returned [1]."),
        ("Troops left [9] Kabul in August [1].", "Troops left Kabul in August [1]."),
        ("Troops left Kabul. [9] They came back [1].", "Troops left Kabul. They came back [1]."),
        # marker-first, so [0] owns the claim: its marker goes after it, then is dropped
        ("[0] Troops left Kabul [1].", "Troops left Kabul. [1]"),
        ("Troops left Kabul [9][1].", "Troops left Kabul [1]."),
    ],
)
def test_an_emptied_marker_leaves_no_stray_space(raw: str, expected: str) -> None:
    r = resolve(raw, hits(2))
    assert r.text == expected
    assert r.dropped == [int(raw[raw.index("[") + 1])]


def test_with_no_hits_every_marker_is_dropped() -> None:
    r = resolve("Drones flew at night [1][2].", [])
    assert (r.text, r.citations, r.dropped) == ("Drones flew at night.", [], [1, 2])
    assert r.unsupported == ["Drones flew at night."]


def test_square_brackets_that_are_not_markers_stay() -> None:
    r = resolve("The ANSF [Afghan National Security Forces] collapsed [1].", hits(1))
    assert r.text == "The ANSF [Afghan National Security Forces] collapsed [1]."


def test_uncited_claims_are_flagged() -> None:
    text = (
        "Summary:\n"
        "Troops were sent to Kabul [1]. The Taliban took the city in eleven days. "
        "It fell fast. Was that expected? Nato members disagreed about the plan. [2]"
    )
    r = resolve(text, hits(2))
    assert r.unsupported == ["The Taliban took the city in eleven days."]


def test_a_refusal_is_not_an_unsupported_claim() -> None:
    assert resolve(REFUSAL, hits(2)).unsupported == []
    assert resolve("I cannot find this in the articles.", hits(2)).unsupported == []


def test_a_claim_citing_only_a_missing_source_is_unsupported() -> None:
    r = resolve("Russia lost three thousand drones [5].", hits(2))
    assert r.unsupported == ["Russia lost three thousand drones."]
    assert r.dropped == [5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith left. Dr. Jones stayed.", ["Mr. Smith left.", "Dr. Jones stayed."]),
        (
            "Prices rose 4.7% in May. Then they fell.",
            ["Prices rose 4.7% in May.", "Then they fell."],
        ),
        (
            'He said "we will go." Then he left.',
            ['He said "we will go."', "Then he left."],
        ),
        ("He said “no.” She agreed.", ["He said “no.”", "She agreed."]),
        ("The U.S. envoy came. He left.", ["The U.S. envoy came.", "He left."]),
        ("They met in the U.S. The talks failed.", ["They met in the U.S.", "The talks failed."]),
        ("George W. Bush spoke.", ["George W. Bush spoke."]),
        ("Drones flew. [1] Jets flew. [2][3]", ["Drones flew. [1]", "Jets flew. [2][3]"]),
        ("Why? Because it rained!", ["Why?", "Because it rained!"]),
        ("A headline\nThe body text. More.", ["A headline", "The body text.", "More."]),
        ("e.g. this stays. Whole.", ["e.g. this stays.", "Whole."]),
        (
            "They met at No. 10 today. He said no. Then",
            ["They met at No. 10 today.", "He said no.", "Then"],
        ),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_repoint_moves_a_misattributed_claim_and_leaves_supported_ones() -> None:
    passages = ["Starmer hosted the summit in London on Sunday.", "Drones hit a depot in Russia."]
    hits = [Hit(f"a:{i}", "a", "T", "x.txt", t, 0, len(t), 1.0) for i, t in enumerate(passages)]
    assert support("Drones hit a depot [1].", passages[1]) == 1.0
    text = "Starmer hosted the summit [1]. Drones hit a Russian depot [1][1]."
    sentences = ["Starmer hosted the summit [1].", "Drones hit a Russian depot [1][1]."]
    assert (
        repoint(text, hits, sentences)
        == "Starmer hosted the summit [1]. Drones hit a Russian depot [2]."
    )
    # a claim split differently from the text is left alone rather than mangled
    assert repoint(text, hits, ["no such sentence"]) == text


def test_an_uncited_claim_is_cited_to_the_passage_that_holds_it() -> None:
    passages = ["Starmer hosted the summit in London on Sunday.", "Drones hit a depot in Russia."]
    shown = [Hit(f"a:{i}", "a", "T", "x.txt", t, 0, len(t), 1.0) for i, t in enumerate(passages)]
    text = "Drones hit a depot in Russia. Starmer hosted it [1]. Water boils at 100 degrees."
    r = resolve(text, shown, repoint_citations=True)
    cited = "Drones hit a depot in Russia. [1] Starmer hosted it [2]. Water boils at 100 degrees."
    assert r.text == cited
    assert [c.hit.text for c in r.citations] == [passages[1], passages[0]]
    assert r.unsupported == ["Water boils at 100 degrees."]  # no passage holds it: no marker
    # the step is the re-pointing one: off, the claim stays uncited
    off = resolve(text, shown, repoint_citations=False)
    assert off.unsupported == ["Drones hit a depot in Russia.", "Water boils at 100 degrees."]
    # a short phrase, a question or a refusal is not a claim and gets no marker
    for plain in ("Drones hit Russia.", "Did drones hit a depot in Russia?", REFUSAL):
        assert resolve(plain, shown, repoint_citations=True).citations == []


@pytest.mark.parametrize(
    ("written", "moved"),
    [
        ("[1] Kabul fell. [2] Ghani fled.", "Kabul fell. [1] Ghani fled. [2]"),
        ('[1] Mr. Trump said "fine". [3] He left.', 'Mr. Trump said "fine". [1] He left. [3]'),
        ("- [1] UK\n- [2, 3] France", "- UK [1]\n- France [2, 3]"),
        ("Kabul fell. [1] Ghani fled. [2]", "Kabul fell. [1] Ghani fled. [2]"),  # already after
        ("Kabul fell [1].", "Kabul fell [1]."),
        ("[1]", "[1]"),
    ],
)
def test_markers_written_before_the_claim_move_after_it(written: str, moved: str) -> None:
    assert markers_after_claims(written) == moved
