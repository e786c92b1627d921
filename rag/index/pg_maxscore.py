"""The exact top ``n`` of BM25 without scoring every chunk that holds a query term.

BM25 is a sum over the query's terms, and a term's share of a chunk's score is below
``idf * (k1 + 1)`` whatever the chunk (``tf / (tf + norm)`` is below one): its *bound*.
MaxScore (Turtle and Flood, 1995) uses that. The terms are taken rarest first (the
highest bound first); each round scores, fully on every query term, chunks that hold
one of the round's terms and none of an earlier round's (those were dealt with). Let
theta be the ``n``-th best score so far. A chunk holding none of the terms taken yet
scores below the sum of the bounds of the terms not taken; once that sum is below
theta, no such chunk can enter the top ``n`` (nor tie with its last), and the ranking
is exact: the same keys, scores and order as scoring every chunk.

A round after the first also leaves out the chunks of its term that cannot reach theta:
those holding too few of the terms not yet taken (its term's bound and theirs short of
theta). Theta only rises, so they never could; the round asks the GIN index for the
chunks holding its term *and* one of the smallest sets of later terms that make up the
difference. Scoring is the cost (each chunk's tsvector is read, from TOAST storage
when the row is large, as with 384-dimension vectors), matching in the index is not.

A common term ("trump", in a third of the synthetic corpus's chunks) has a low bound,
so it is usually never taken: the chunks holding only common terms are never scored.

>>> steps = []
>>> def score(step, n):
...     steps.append(step)
...     return {"a": ([(7, 11.0), (3, 9.0)], 2), "b": ([(5, 10.0)], 30)}[step.terms[0]]
>>> top({"a": 2, "b": 100, "c": 150, "d": 900}, 1000, 2, score)
Pruned(ranking=[(7, 11.0), (5, 10.0)], scored=32, rounds=2)
>>> steps[1]
Step(terms=['b'], earlier=['a'], groups=[['c']])

(Bounds: a 13.2, b 5.06, c 4.17, d 0.23. Round one scores the chunks of ``a``; theta is
9.0, below the 9.46 of b, c and d. Round two scores those of ``b`` that also hold ``c``:
with ``d`` alone a chunk of ``b`` reaches 5.29 at most. Theta is then 10.0, above the
4.40 of c and d: no other chunk can enter.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rag.index.base import Ranking
from rag.index.bm25 import K1, idf


@dataclass(frozen=True)
class Step:
    """The chunks one round scores: holding any of ``terms``, all the terms of one of
    ``groups`` (when there are any: the others cannot reach theta) and none of
    ``earlier`` (the earlier rounds' terms)."""

    terms: list[str]
    earlier: list[str]
    groups: list[list[str]] = field(default_factory=list)


# A round: (its step, n) -> (the best n of the chunks it scored, how many it scored).
Round = Callable[[Step, int], tuple[Ranking, int]]
# Margin on the stopping test: a chunk's share of a term is below its bound by at least
# 0.1% (tf is at most 256 in a tsvector, norm at least k1 (1 - b) = 0.3), far above the
# float error of the bounds' sum; the margin only makes the test surer.
SLACK = 1e-9
# Bounds on the sets of later terms a round asks the GIN index for (2^12 sets tried at
# most, a tsquery of 32 alternatives at most); beyond them a round scores every chunk of
# its term.
MAX_LATER, MAX_GROUPS = 12, 32


@dataclass(frozen=True)
class Pruned:
    ranking: Ranking  # the best n (key, score), best first, equal scores by key
    scored: int  # chunks scored, over all rounds
    rounds: int


def bound(df: int, docs: int) -> float:
    """The most a term in ``df`` of ``docs`` chunks adds to a chunk's score."""
    return (K1 + 1) * float(idf(docs, df))


def top(dfs: dict[str, int], docs: int, n: int, score: Round, prune: bool = True) -> Pruned:
    """The exact best ``n`` chunks for the terms of ``dfs`` (each with its document
    frequency), their chunks scored a round at a time by ``score``; ``prune=False``
    scores every chunk holding a term in one round."""
    # Rarest first: idf falls as df grows, so this is the highest bound first.
    order = sorted((t for t in dfs if dfs[t] > 0), key=lambda t: (dfs[t], t))
    bounds = {t: bound(dfs[t], docs) for t in order}
    rest = [0.0] * (len(order) + 1)  # rest[i]: the bounds of order[i:], summed
    for i in reversed(range(len(order))):
        rest[i] = rest[i + 1] + bounds[order[i]]
    if n < 1:
        return Pruned([], 0, 0)
    found: Ranking = []
    scored = rounds = taken = 0
    while taken < len(order):
        if not prune:
            step, upto = Step(order, []), len(order)
        elif not taken:
            upto = _first(order, dfs, n)
            step = Step(order[:upto], [])
        else:
            upto = taken + 1
            theta = found[-1][1] if len(found) == n else 0.0  # 0: no theta yet
            groups = _groups(order[taken], order[upto:], bounds, theta) if theta else []
            step = Step(order[taken:upto], order[:taken], groups)
        ranking, count = score(step, n)
        found = sorted(found + ranking, key=lambda hit: (-hit[1], hit[0]))[:n]
        scored, rounds, taken = scored + count, rounds + 1, upto
        if len(found) == n and rest[taken] * (1 + SLACK) < found[-1][1]:
            break
    return Pruned(found, scored, rounds)


def _first(order: list[str], dfs: dict[str, int], n: int) -> int:
    """How many of the rarest terms the first round takes: as many as can fill the ``n``
    places (their document frequencies add up to ``n``). Fewer cannot stop the search (no
    theta without n chunks), and more rare terms in one round save round trips; after
    it, every round takes one more term, each commoner (costlier to score) than the last,
    so the search stops before the costliest it can."""
    total = 0
    for i, term in enumerate(order):
        total += dfs[term]
        if total >= n:
            return i + 1
    return len(order)


def _groups(term: str, later: list[str], bounds: dict[str, float], theta: float) -> list[list[str]]:
    """The smallest sets of ``later`` terms whose bounds with ``term``'s may reach
    ``theta``: a chunk holding ``term`` and none of them cannot. None needed (``term``
    alone may reach it), or too many to ask for (a long query), is no sets: every chunk
    of ``term`` is scored, which is never wrong, only slower."""
    short = theta / (1 + SLACK) - bounds[term]
    if short <= 0 or len(later) > MAX_LATER:
        return []
    tail = [sum(bounds[t] for t in later[i:]) for i in range(len(later))]
    groups: list[list[str]] = []

    def grow(group: list[str], total: float, start: int) -> None:
        # A set is kept when its last term makes it reach ``short``, so without that term
        # it falls short, and without any other too: ``later`` is by bound, highest
        # first, so every other term's bound is at least the last's.
        for i in range(start, len(later)):
            if total + tail[i] < short:  # not even with every term left
                return
            if total + bounds[later[i]] >= short:
                groups.append([*group, later[i]])
            else:
                grow([*group, later[i]], total + bounds[later[i]], i + 1)

    grow([], 0.0, 0)
    return groups if len(groups) <= MAX_GROUPS else []


class Frequencies:
    """Document frequencies of one generation, the ``size`` terms last asked for: a
    reader's generation never changes them, so a term is counted once, not every query.

    >>> cache = Frequencies(size=2)
    >>> cache.get(["a", "b"], lambda missing: {t: 1 for t in missing})
    {'a': 1, 'b': 1}
    >>> cache.get(["c", "a"], lambda missing: {t: 2 for t in missing})
    {'c': 2, 'a': 1}
    >>> cache.get(["b"], lambda missing: {t: 3 for t in missing})  # "b" was dropped
    {'b': 3}
    """

    # 4096 terms, a few hundred kilobytes: the 200 eval questions use 661.
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._df: OrderedDict[str, int] = OrderedDict()

    def get(
        self, terms: Iterable[str], count: Callable[[list[str]], dict[str, int]]
    ) -> dict[str, int]:
        """Each term's document frequency, ``count`` asked for those not kept."""
        wanted = list(dict.fromkeys(terms))
        missing = [t for t in wanted if t not in self._df]
        if missing:
            self._df.update(count(missing))
        out = {t: self._df[t] for t in wanted}
        for term in wanted:
            self._df.move_to_end(term)
        while len(self._df) > self.size:
            self._df.popitem(last=False)
        return out
