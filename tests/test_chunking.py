from __future__ import annotations

import itertools

import pytest

from rag.errors import ConfigError
from rag.index.chunking import ChunkSettings, chunk_article
from rag.index.embedders import Embedder
from rag.ingest.files import load_corpus
from rag.text.sentences import sentence_spans
from rag.text.tokens import count_tokens, encoding
from rag.types import Article

from conftest import SEEDS


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return load_corpus([SEEDS]).articles


def test_tokenizer_is_cl100k_offline() -> None:
    assert encoding().encode("hello world") == [15339, 1917]
    assert count_tokens("The Taliban’s triumphant march into Kabul") == 8


def test_chunks_are_exact_spans_within_the_size(articles: list[Article]) -> None:
    settings = ChunkSettings(max_tokens=120, overlap_tokens=24)
    for article in articles:
        chunks = chunk_article(article, settings)
        assert chunks, article.title
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert chunk.n_tokens == count_tokens(chunk.text) <= 120
            assert chunk.chunk_id == f"{article.article_id}:{chunk.ordinal}"
        # together the chunks cover the whole article, in order
        assert chunks[0].start == 0 and chunks[-1].end == len(article.text.rstrip())
        assert all(
            a.start < b.start and b.start <= a.end + 2 for a, b in itertools.pairwise(chunks)
        )


def test_chunks_end_on_sentence_boundaries(articles: list[Article]) -> None:
    for chunk in chunk_article(articles[0], ChunkSettings()):
        assert chunk.text.rstrip()[-1] in ".!?”’\"')]:" or chunk.end == len(articles[0].text)


def test_overlap_repeats_the_last_sentences(articles: list[Article]) -> None:
    chunks = chunk_article(articles[0], ChunkSettings(max_tokens=100, overlap_tokens=40))
    overlapping = [b for a, b in itertools.pairwise(chunks) if b.start < a.end]
    assert len(overlapping) >= len(chunks) // 2
    no_overlap = chunk_article(articles[0], ChunkSettings(max_tokens=100, overlap_tokens=0))
    assert all(b.start >= a.end for a, b in itertools.pairwise(no_overlap))


def test_a_sentence_longer_than_the_limit_is_cut_by_tokens() -> None:
    text = " ".join(["word"] * 500) + "."
    article = Article("a1", "t", text, "s")
    chunks = chunk_article(article, ChunkSettings(max_tokens=64, overlap_tokens=0))
    assert len(chunks) >= 8
    assert all(c.n_tokens <= 64 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_the_embedder_can_veto_a_chunk(articles: list[Article]) -> None:
    fits = lambda text: len(text) <= 400
    chunks = chunk_article(articles[1], ChunkSettings(max_tokens=400, overlap_tokens=0), fits)
    # only a lone sentence may exceed what the embedder accepts (nothing left to split off)
    assert all(len(c.text) <= 400 for c in chunks if len(sentence_spans(c.text)) > 1)
    assert any(len(sentence_spans(c.text)) > 1 for c in chunks)
    unvetoed = chunk_article(articles[1], ChunkSettings(max_tokens=400, overlap_tokens=0))
    assert any(len(c.text) > 400 for c in unvetoed)  # the veto, not the size, did it


@pytest.mark.parametrize("bad", [(8, 0), (100, 60), (100, -1)])
def test_bad_settings_are_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ConfigError, match="must be"):
        ChunkSettings(*bad)


@pytest.mark.slow
def test_no_chunk_is_longer_than_minilm_reads(
    minilm_embedder: Embedder, articles: list[Article]
) -> None:
    """all-MiniLM-L6-v2 silently drops word pieces past 256: no chunk may need more."""
    embedder = minilm_embedder
    assert embedder.max_tokens == 256
    fits = lambda text: embedder.token_count(text) <= embedder.max_tokens
    for settings in (ChunkSettings(), ChunkSettings(max_tokens=400, overlap_tokens=40)):
        for article in articles:
            for chunk in chunk_article(article, settings, fits):
                assert embedder.token_count(chunk.text) <= 256
