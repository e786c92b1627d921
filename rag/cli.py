"""rag: index news articles, search them, and answer questions with cited sources.

Errors the user can cause are one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TypeAlias

from rag.answer.answerers import prepare, prepare_needed
from rag.answer.backends import BACKENDS
from rag.errors import RagError
from rag.evaluation.records import HALVES
from rag.llm.openai_config import ENV_HELP
from rag.terminal import Status, printable
from rag.types import Answer, Hit

DEFAULT_INDEX = os.environ.get("RAG_INDEX", "index")


def cmd_index(args: argparse.Namespace) -> int:
    from rag.index.chunking import ChunkSettings
    from rag.index.embedders import make_embedder
    from rag.index.engines import open_engine
    from rag.index.indexer import index_corpus

    settings = ChunkSettings(args.max_tokens, args.overlap)
    embedder = make_embedder(args.embedder)
    with open_engine(
        args.engine, embedder, progress=not args.json, address=args.ray_address
    ) as engine:
        report = index_corpus(
            args.paths or ["seeds"],
            args.index,
            embedder,
            settings,
            rebuild=args.rebuild,
            store=args.store,
            engine=engine,
        )
    if args.json:
        print(json.dumps(report.summary()))
        return 0
    for skipped in report.skipped:
        print(printable(f"skipped {skipped.path}: {skipped.reason}"), file=sys.stderr)
    print(
        f"indexed {report.files} files -> {report.articles} articles, {report.chunks} chunks "
        f"in {printable(report.index_dir)} ({report.added} added, {report.removed} removed, "
        f"{report.unchanged} unchanged, {report.rechunked} re-chunked, "
        f"{report.embedded_chunks} chunks embedded, "
        f"{len(report.skipped)} skipped, {report.duplicates} duplicates) "
        f"in {report.seconds:.1f}s"
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import rag

    kb = rag.load(args.index, store=args.store)
    hits = kb.search(
        args.question,
        k=args.k,
        mode=args.mode,
        mmr=args.mmr,
        article=args.article,
        source=args.source,
        since=args.since,
        until=args.until,
    )
    if args.json:
        ranked = [{"rank": i, **hit.to_dict()} for i, hit in enumerate(hits, 1)]
        out = {"question": args.question, "hits": ranked}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for rank, hit in enumerate(hits, 1):
        heading = f"{rank}. {_label(hit)}  [score {hit.score:.4f}]"
        print(printable(heading))
        print(printable("   " + hit.text.replace("\n", "\n   ") + "\n"))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    import rag

    status = Status()  # progress on a terminal's stderr only; cleared before any output
    try:
        status.show("opening the index…")
        kb = rag.load(args.index, store=args.store)
        answerer = kb.answerer(args.backend)
        if prepare_needed(answerer):
            status.show("loading the model (first question only)…")
            prepare(answerer)
        status.show("searching the articles…")
        if args.json:
            answer = kb.ask(args.question, backend=args.backend, k=args.k)
            status.clear()
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
            return 0
        _stream_answer(kb.stream(args.question, backend=args.backend, k=args.k), status, args)
        return 0
    finally:
        status.clear()


def _stream_answer(
    stream: Iterator[str | Answer], status: Status, args: argparse.Namespace
) -> None:
    # The streamed text is the answer's text, citations already checked (rag.answer.citations).
    for item in stream:
        status.clear()
        if isinstance(item, Answer):
            print()
            _print_sources(item)
            if args.verbose:
                print(f"timings: {_timings(item)}", file=sys.stderr)
        else:
            print(printable(item), end="", flush=True)


def _timings(answer: Answer) -> str:
    """``retrieval 0.05 s · first_token 4.20 s · total 6.10 s``, in the order measured."""
    return " · ".join(f"{name} {seconds:.2f} s" for name, seconds in answer.timings.items())


def _print_sources(answer: Answer) -> None:
    if answer.incomplete:
        print("\n(the answer is incomplete: the backend stopped before it finished)")
    if answer.note:
        print(printable(f"\n({answer.note})"))
    if answer.abstained:
        _print_searched(answer)
        return
    print("\nSources:")
    for c in answer.citations:
        print(printable(f"[{c.n}] {_label(c.hit)}"))
        print(printable("    " + c.hit.text.replace("\n", "\n    ")))
    for sentence in answer.unsupported:
        print(printable(f"(no citation for: {sentence})"))


def _print_searched(answer: Answer, shown: int = 3) -> None:
    """A refusal still says what was searched: the closest passages, briefly."""
    if not answer.sources:
        return
    print("\nClosest passages searched:")
    for hit in answer.sources[:shown]:
        text = " ".join(hit.text.split())
        print(printable(f"- {_label(hit)}: {text[:140]}…"))


def _label(hit: Hit) -> str:
    """Title — source (publisher, date): "date unknown" rather than no date at all.

    >>> _label(Hit("a:0", "a", "Rain", "news/rain.txt", "It rained.", 0, 10, 0.5))
    'Rain — news/rain.txt (date unknown)'
    """
    about = ", ".join(filter(None, [hit.publisher, hit.date]))
    return f"{hit.title or '(untitled)'} — {hit.source} ({about})"


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(
        index_dir=args.index,
        host=args.host,
        port=args.port,
        backend=args.backend,
        seeds=args.seeds,
        store=args.store,
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluation.runner import main as eval_main

    return eval_main(args)


# argparse has no public name for the object add_subparsers returns.
_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_INDEX_HELP = "index directory (default: $RAG_INDEX or index)"
_STORE_HELP = (
    "a PostgreSQL store instead of the --index folder: postgresql://USER:PASSWORD@HOST:PORT/DB "
    "(default: $RAG_STORE_URL; 'faiss': the folder even when that is set)"
)
_BACKEND_HELP = "answer backend (default: $RAG_BACKEND or local)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_index_parser, _search_parser, _ask_parser, _chat_parser, _eval_parser):
        add(sub)
    return parser


def _index_parser(sub: _Sub) -> None:
    p = sub.add_parser("index", help="index files or folders of .txt/.md/.html articles")
    p.add_argument("paths", nargs="*", help="files or folders (default: seeds)")
    p.add_argument("--index", default=DEFAULT_INDEX, help=_INDEX_HELP)
    p.add_argument("--store", default=None, metavar="URL", help=_STORE_HELP)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--rebuild", action="store_true", help="start a fresh index")
    p.add_argument("--embedder", default=None, help="minilm (default), hash:DIM, or a model dir")
    p.add_argument("--max-tokens", type=int, default=200, help="chunk size in tokens (default 200)")
    p.add_argument("--overlap", type=int, default=40, help="chunk overlap in tokens (default 40)")
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: in this process (default); ray: as Ray Data stages, on a local Ray or a "
        "cluster (pip install 'rag-news[scale]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="with --engine ray: the Ray cluster to run on, HOST:PORT or ray://HOST:PORT "
        "(default: $RAY_ADDRESS, else a local Ray on this machine)",
    )
    p.set_defaults(func=cmd_index)


def _search_parser(sub: _Sub) -> None:
    p = sub.add_parser("search", help="show the passages that best match a question")
    p.add_argument("question")
    p.add_argument("--index", default=DEFAULT_INDEX, help=_INDEX_HELP)
    p.add_argument("--store", default=None, metavar="URL", help=_STORE_HELP)
    p.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    p.add_argument("--mmr", type=float, default=None, help="diversity: MMR lambda in (0, 1]")
    p.add_argument("--article", default=None, help="only this article (id or part of title)")
    p.add_argument("--source", default=None, help="only this source file")
    p.add_argument("--since", default=None, help="only articles published on or after YYYY-MM-DD")
    p.add_argument("--until", default=None, help="only articles published on or before YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print the hits as JSON")
    p.set_defaults(func=cmd_search)


def _ask_parser(sub: _Sub) -> None:
    p = sub.add_parser("ask", help="answer a question with citations", epilog=ENV_HELP)
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the epilog's lines
    p.add_argument("question")
    p.add_argument("--index", default=DEFAULT_INDEX, help=_INDEX_HELP)
    p.add_argument("--store", default=None, metavar="URL", help=_STORE_HELP)
    p.add_argument("--backend", choices=sorted(BACKENDS), default=None, help=_BACKEND_HELP)
    p.add_argument("-k", type=int, default=5, help="passages given to the backend (default 5)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(func=cmd_ask)


def _chat_parser(sub: _Sub) -> None:
    p = sub.add_parser("chat", help="serve the chat in the browser", epilog=ENV_HELP)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--index", default=DEFAULT_INDEX, help=_INDEX_HELP)
    p.add_argument("--store", default=None, metavar="URL", help=_STORE_HELP)
    p.add_argument("--seeds", default="seeds", help="indexed first if there is no index")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: loopback)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--backend", choices=sorted(BACKENDS), default=None, help=_BACKEND_HELP)
    p.set_defaults(func=cmd_chat)


def _eval_parser(sub: _Sub) -> None:
    p = sub.add_parser("eval", help="run the grounding evaluation suite")
    p.add_argument("--questions", default="eval/questions.jsonl", help="questions (JSON lines)")
    p.add_argument("--index", default=DEFAULT_INDEX, help=_INDEX_HELP)
    p.add_argument("--store", default=None, metavar="URL", help=_STORE_HELP)
    p.add_argument("--backend", choices=sorted(BACKENDS), default=None, help=_BACKEND_HELP)
    p.add_argument("-k", type=int, default=5, help="passages per question (default 5)")
    p.add_argument("--out", default="eval/reports", help="report folder (default: eval/reports)")
    p.add_argument("--compare", default=None, help="an earlier report.json to compare with")
    p.add_argument("--limit", type=int, default=None, help="N questions spread over the file")
    p.add_argument(
        "--half",
        choices=HALVES,
        default=None,
        help="only the tuning half (even ids) or the test half (odd ids)",
    )
    p.add_argument(
        "--ids",
        default=None,
        help="only these questions, comma-separated (q001,q008); with --gate and no "
        '--ids/--limit/--half, the backend\'s "ids" in thresholds.json, if it lists any',
    )
    p.add_argument("--judge", default=None, help="backend for the LLM citation judge (none: off)")
    p.add_argument("--gate", action="store_true", help="exit 1 below the thresholds")
    p.set_defaults(func=cmd_eval)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"rag: error: {printable(str(exc), keep='')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
