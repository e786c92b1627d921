"""rag.text: the one sentence splitter, word normaliser and overlap share."""

from __future__ import annotations

from rag.answer.repoint import support
from rag.evaluation.support import token_recall
from rag.text.sentences import sentence_spans, split_sentences
from rag.text.words import content_words, overlap, terms, tokens


def test_articles_split_at_paragraphs_answers_at_every_line() -> None:
    text = "Troops left Kabul\nin August. Ghani fled [2].\n\nA new paragraph."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Troops left Kabul\nin August.",  # a single line break may be hard wrapping
        "Ghani fled [2].",
        "A new paragraph.",
    ]
    assert split_sentences(text) == [
        "Troops left Kabul",
        "in August.",
        "Ghani fled [2].",
        "A new paragraph.",
    ]


def test_split_sentences_are_the_spans_text() -> None:
    text = "Mr. Smith left. [1] He met the U.S. envoy. [2][3]\n- An item [4]"
    spans = sentence_spans(text, line_breaks=True)
    assert split_sentences(text) == [text[a:b] for a, b in spans]
    assert split_sentences(text) == [
        "Mr. Smith left. [1]",
        "He met the U.S. envoy. [2][3]",
        "- An item [4]",
    ]


def test_one_tokeniser_under_terms_and_content_words() -> None:
    assert tokens("Russia’s drones don't [1]") == ["russia", "drones", "dont", "1"]
    assert terms("Russia’s drones don't") == ["russia", "dron"]
    assert content_words("Russia’s drones don't [1]") == ["russias", "drones"]  # the eval's norm


def test_one_overlap_rule_and_callers_say_what_an_empty_claim_means() -> None:
    assert overlap([], {"x"}) == 0.0
    assert token_recall("It was.", "Anything") == 0.0  # the eval: nothing claimed, nothing held
    assert support("It was [1].", "Anything") == 1.0  # re-pointing: nothing to move
    assert overlap(["pose", "pose", "envoy"], {"pose"}) == 2 / 3
    assert overlap({"pose", "envoy"}, {"pose"}) == 0.5
