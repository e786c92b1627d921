"""The MaxScore rounds (rag/index/pg_maxscore.py) against scoring every chunk, in memory:
random corpora, some chunks stuffed with a term so that its share comes near its bound
(where a stopping test or a round's sets of later terms that are too bold go wrong).
tests/test_pg_bm25.py runs the rounds as SQL in PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rag.index.base import Ranking
from rag.index.pg_lexical import K1, B
from rag.index.pg_maxscore import Round, Step, top

Corpus = dict[int, dict[str, int]]  # key -> term -> frequency


def corpus(
    rng: np.random.Generator, terms: list[str], chunks: int
) -> tuple[Corpus, dict[int, int]]:
    """Chunks holding each term with its own probability (from a few percent to most),
    a fifth of them short and stuffed (a term 20 to 200 times); and their lengths."""
    shares = {t: float(rng.choice([0.02, 0.05, 0.15, 0.4, 0.7])) for t in terms}
    held: Corpus = {}
    lengths = {}
    for key in range(1, chunks + 1):
        stuffed = rng.random() < 0.2
        tfs = {t: int(rng.integers(20, 200) if stuffed else rng.integers(1, 4))
               for t in terms if rng.random() < shares[t]}  # fmt: skip
        held[key] = tfs
        lengths[key] = sum(tfs.values()) + int(rng.integers(0 if stuffed else 20, 60))
    return held, lengths


def scores(held: Corpus, lengths: dict[int, int], query: list[str]) -> dict[int, float]:
    """BM25 of every chunk holding a query term, as pg_lexical.BM25_SQL computes it."""
    docs, avg = len(held), sum(lengths.values()) / len(held)
    df = {t: sum(t in tfs for tfs in held.values()) for t in query}
    out = {}
    for key, tfs in held.items():
        norm = K1 * (1 - B + B * lengths[key] / avg)
        shares = [
            math.log(1 + (docs - df[t] + 0.5) / (df[t] + 0.5)) * tfs[t] * (K1 + 1) / (tfs[t] + norm)
            for t in query
            if t in tfs
        ]
        if shares:
            out[key] = sum(shares)
    return out


def rounds(held: Corpus, scored: dict[int, float], steps: list[Step]) -> Round:
    """A round as ROUND_SQL runs one: the chunks of its step, their best n."""

    def score(step: Step, n: int) -> tuple[Ranking, int]:
        steps.append(step)
        keys = [
            key
            for key, tfs in held.items()
            if any(t in tfs for t in step.terms)
            and (not step.groups or any(all(t in tfs for t in g) for g in step.groups))
            and not any(t in tfs for t in step.earlier)
        ]
        ranked = sorted(((k, scored[k]) for k in keys), key=lambda hit: (-hit[1], hit[0]))
        return ranked[:n], len(keys)

    return score


@pytest.mark.parametrize("seed", range(6))
def test_rounds_give_the_best_n_of_every_chunk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    terms = [f"w{i}" for i in range(8)]
    held, lengths = corpus(rng, terms, 400)
    left_out = 0
    for _ in range(150):
        query = list(rng.choice(terms, rng.integers(1, 7), replace=False))
        n = int(rng.choice([1, 2, 5, 10, 30, 500]))
        scored = scores(held, lengths, query)
        everything = sorted(scored.items(), key=lambda hit: (-hit[1], hit[0]))[:n]
        df = {t: sum(t in tfs for tfs in held.values()) for t in [*query, "absent"]}
        steps: list[Step] = []
        pruned = top(df, len(held), n, rounds(held, scored, steps))
        assert pruned.ranking == everything, (query, n, steps)
        assert pruned.rounds == len(steps) and pruned.scored <= len(scored)
        left_out += len(scored) - pruned.scored
    assert left_out > 0  # the rounds did leave chunks out


def test_without_pruning_one_round_scores_every_chunk() -> None:
    held, lengths = corpus(np.random.default_rng(1), ["a", "b", "c"], 100)
    scored = scores(held, lengths, ["a", "b", "c"])
    steps: list[Step] = []
    df = {t: sum(t in tfs for tfs in held.values()) for t in "abc"}
    pruned = top(df, len(held), 5, rounds(held, scored, steps), prune=False)
    assert len(steps) == 1 and sorted(steps[0].terms) == ["a", "b", "c"]
    assert steps[0].earlier == steps[0].groups == [] and pruned.scored == len(scored)
