"""BM25 in the PostgreSQL store: MaxScore rounds against the reference SQL, timed and compared.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pg_bm25.py --chunks 20000

The synthetic corpus's database is the one ``bench/search.py`` fills (the private server
under ``bench/.cache/postgres``; filled here if it is missing). Each of the first 100
eval questions asks ``PgStore.lexical`` for its 50 best chunks (the retriever's
candidates) three ways: in rounds with no document frequency known yet (*cold*: each
term counted), in rounds again (*warm*: every frequency kept by the store), and by the
reference SQL (every chunk holding a query term scored, the frequencies counted on each
query). Prints each one's p50 / p95, the chunks the rounds scored against those the
reference scores, and whether every ranking equals the reference's (same keys in the
same order, scores within 1e-9).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_column import databases
from synthetic import Corpus

from rag.index.base import Ranking
from rag.index.pg_lexical import tsquery
from rag.index.pg_maxscore import Frequencies
from rag.index.pg_store import PgStore

ROOT = Path(__file__).resolve().parent.parent
N = 50  # rag.index.retrieval.SearchOptions.candidates


def timed(call: Callable[[], Ranking]) -> tuple[Ranking, float]:
    started = time.perf_counter()
    ranking = call()
    return ranking, (time.perf_counter() - started) * 1000


def same(one: Ranking, other: Ranking) -> bool:
    return [k for k, _ in one] == [k for k, _ in other] and all(
        abs(a - b) <= 1e-9 * max(1.0, abs(b)) for (_, a), (_, b) in zip(one, other, strict=True)
    )


def holding(store: PgStore, question: str) -> int:
    """Chunks holding any of the question's terms (the bench's database holds one
    generation): those the reference scores."""
    sql = "SELECT count(*) FROM rag_chunks WHERE terms @@ to_tsquery('simple', %s)"
    return int(store.conn.execute(sql, (tsquery(question),)).fetchone()[0])


def line(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"  {label:<40} p50 {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    lines = (ROOT / "eval" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines][: args.questions]
    with databases(None) as database:
        store = PgStore(database(Corpus(args.chunks)))
        times: dict[str, list[float]] = {"cold": [], "warm": [], "reference": []}
        scored, matching, exact = [], [], 0
        for question in questions:
            store.prune, store.frequencies = True, Frequencies()
            cold, ms = timed(lambda q=question: store.lexical(q, N))
            times["cold"].append(ms)
            warm, ms = timed(lambda q=question: store.lexical(q, N))
            times["warm"].append(ms)
            assert store.last_lexical is not None
            scored.append(store.last_lexical.scored)
            store.prune = False
            reference, ms = timed(lambda q=question: store.lexical(q, N))
            times["reference"].append(ms)
            store.prune = True
            matching.append(holding(store, question))
            exact += same(cold, reference) and same(warm, reference)
        store.close()
    print(f"{args.chunks:,} chunks, {len(questions)} questions, top {N}")
    print(line("rounds, frequencies counted (cold)", times["cold"]))
    print(line("rounds, frequencies kept (warm)", times["warm"]))
    print(line("reference: every matching chunk scored", times["reference"]))
    rounds, every = statistics.median(scored), statistics.median(matching)
    print(f"  chunks scored, p50: rounds {rounds:.0f}, reference {every:.0f} (all holding a term)")
    print(f"  rankings equal to the reference's: {exact} of {len(questions)}")


if __name__ == "__main__":
    main()
