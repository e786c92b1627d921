"""The Embedder role's contract (rag.index.embedders.Embedder): every embedder passes it.

:class:`EmbedderContract` holds the tests; each embedder subclasses it with its
``embedder`` fixture. The hash fake runs in the fast suite; the real MiniLM is ``slow``.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.embedders import Embedder, make_embedder

NEAR = ("The coalition of the willing met in Paris.", "Leaders of the willing coalition met.")
FAR = "Bananas are a yellow fruit rich in potassium."


class EmbedderContract:
    """What every :class:`rag.index.embedders.Embedder` must do (not collected itself)."""

    def test_describes_itself(self, embedder: Embedder) -> None:
        assert isinstance(embedder.name, str) and embedder.name
        assert isinstance(embedder.dim, int) and embedder.dim > 0
        assert isinstance(embedder.max_tokens, int) and embedder.max_tokens > 0

    def test_one_unit_float32_row_per_text(self, embedder: Embedder) -> None:
        vectors = embedder.embed([*NEAR, FAR, ""])  # an empty text too
        assert vectors.shape == (4, embedder.dim) and vectors.dtype == np.float32
        assert np.all(np.isfinite(vectors))
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_no_texts_give_no_rows(self, embedder: Embedder) -> None:
        assert embedder.embed([]).shape == (0, embedder.dim)

    def test_a_text_gets_the_same_vector_alone_or_in_a_batch(self, embedder: Embedder) -> None:
        alone = embedder.embed([NEAR[0]])[0]
        assert np.allclose(alone, embedder.embed([NEAR[0], FAR])[0], atol=1e-4)
        assert np.array_equal(alone, embedder.embed([NEAR[0]])[0])

    def test_related_texts_are_closer_than_unrelated_ones(self, embedder: Embedder) -> None:
        a, b, c = embedder.embed([*NEAR, FAR])
        assert float(a @ b) > float(a @ c)

    def test_token_count_grows_with_the_text(self, embedder: Embedder) -> None:
        short = embedder.token_count("Paris")
        assert 0 < short < embedder.token_count(" ".join(NEAR))


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return make_embedder("hash:256")


@pytest.mark.slow
class TestMiniLMEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, minilm_embedder: Embedder) -> Embedder:
        return minilm_embedder
