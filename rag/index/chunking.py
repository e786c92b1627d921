"""Token-based chunking that keeps paragraph and sentence boundaries.

A chunk is a contiguous span of its article, so ``article.text[start:end]`` is
exactly the passage a citation points at. Sizes are counted in cl100k_base
tokens; ``fits`` lets the embedder veto a chunk its own tokenizer finds too long
(all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from rag.errors import ConfigError
from rag.text.sentences import paragraph_spans, sentence_spans
from rag.text.tokens import count_tokens, encoding
from rag.types import Article, Chunk

Fits = Callable[[str], bool]


@dataclass(frozen=True)
class ChunkSettings:
    """Defaults measured on the eval questions (see README, "Chunking")."""

    max_tokens: int = 200
    overlap_tokens: int = 40

    def __post_init__(self) -> None:
        if not 16 <= self.max_tokens <= 8192:
            raise ConfigError(f"max_tokens must be between 16 and 8192, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ConfigError(
                f"overlap_tokens must be >= 0 and < max_tokens/2 ({self.max_tokens // 2}), "
                f"got {self.overlap_tokens}"
            )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _units(text: str, max_tokens: int) -> list[tuple[int, int, bool]]:
    """Sentence spans (start, end, starts_paragraph); over-long sentences cut by tokens."""
    para_starts = {start for start, _ in paragraph_spans(text)}
    units = []
    for start, end in sentence_spans(text):
        for i, (s, e) in enumerate(_split_long(text, start, end, max_tokens)):
            units.append((s, e, i == 0 and start in para_starts))
    return units


def _split_long(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    tokens = encoding().encode(text[start:end], disallowed_special=())
    if len(tokens) <= max_tokens:
        return [(start, end)]
    pieces, offset = [], start
    for i in range(0, len(tokens), max_tokens):
        piece = encoding().decode(tokens[i : i + max_tokens])
        pieces.append((offset, offset + len(piece)))
        offset += len(piece)
    return pieces


def chunk_article(
    article: Article, settings: ChunkSettings, fits: Fits | None = None
) -> list[Chunk]:
    """Pack sentences greedily into chunks of at most ``settings.max_tokens`` tokens.

    Each chunk after the first starts with the last sentences of the previous one,
    up to ``overlap_tokens``; a chunk that is more than half full ends at a
    paragraph break rather than taking the next paragraph's first sentence.
    """
    text = article.text
    units = _units(text, settings.max_tokens)
    cost = [count_tokens(text[s:e]) for s, e, _ in units]
    spans: list[tuple[int, int]] = []  # (first unit, last unit + 1)
    first = 0
    while first < len(units):
        last = _pack(text, units, cost, first, settings, fits)
        spans.append((first, last))
        if last >= len(units):
            break
        first = _overlap_start(cost, first, last, settings.overlap_tokens)
    return [_make_chunk(article, units, i, a, b) for i, (a, b) in enumerate(spans)]


def _pack(
    text: str,
    units: list[tuple[int, int, bool]],
    cost: list[int],
    first: int,
    settings: ChunkSettings,
    fits: Fits | None,
) -> int:
    """Index one past the last unit of the chunk that starts at ``first``."""
    last, used = first + 1, cost[first]
    while last < len(units):
        if used + cost[last] > settings.max_tokens:
            break
        if units[last][2] and used > settings.max_tokens // 2:
            break  # more than half full: end at the paragraph break
        candidate = text[units[first][0] : units[last][1]]
        if fits is not None and not fits(candidate):
            break
        used += cost[last]
        last += 1
    return last


def _overlap_start(cost: list[int], first: int, last: int, overlap: int) -> int:
    start, used = last, 0
    while start - 1 > first and used + cost[start - 1] <= overlap:
        start -= 1
        used += cost[start]
    return start


def _make_chunk(
    article: Article, units: list[tuple[int, int, bool]], ordinal: int, a: int, b: int
) -> Chunk:
    start, end = units[a][0], units[b - 1][1]
    text = article.text[start:end]
    return Chunk(
        chunk_id=f"{article.article_id}:{ordinal}",
        article_id=article.article_id,
        ordinal=ordinal,
        text=text,
        start=start,
        end=end,
        n_tokens=count_tokens(text),
    )
