"""Files in, clean articles out.

``load_corpus`` takes files and folders, reads every .txt/.md/.html/.htm/.pdf file, splits each
into articles (a PDF is one article) and keeps each article once. A file it cannot use, or a
folder it cannot list, is skipped with a warning on the "rag" logger, so one bad file never
stops a run; a path that does not exist is an error.

Skipped under doctest, which may run from any directory (``seeds`` is relative):

>>> corpus = load_corpus(["seeds"])  # doctest: +SKIP
>>> [a.title for a in corpus.articles][-1]  # doctest: +SKIP
"Is the 'coalition of the willing' going to work?"
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rag.errors import InputError
from rag.ingest.articles import one_article, split_articles
from rag.ingest.pdf import read_pdf
from rag.ingest.webpage import read_page, with_page_meta
from rag.types import Article

log = logging.getLogger("rag")

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
PDF_SUFFIXES = frozenset({".pdf"})
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
UNREADABLE = "unreadable"  # the reason of a file that is there but could not be read


@dataclass(frozen=True)
class Skipped:
    """A file that was found but gave no articles, and why."""

    path: str
    reason: str  # "not UTF-8 text", "binary file", "empty file", "no article text found", ...
    unreadable: bool = False  # the file or folder is there but could not be read


@dataclass
class Corpus:
    """What ``load_corpus`` found: articles in file order, each article once."""

    articles: list[Article] = field(default_factory=list)
    files: int = 0  # files that gave at least one article
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: int = 0  # articles dropped because the same text was already seen


def load_corpus(paths: Sequence[str | Path]) -> Corpus:
    """Read every supported file under ``paths`` (files or folders, walked in sorted order)."""
    corpus = Corpus()
    seen: set[str] = set()
    for path in iter_files(paths, partial(_skip_folder, corpus)):
        articles = _read_articles(path, corpus)
        if articles is None:
            continue
        corpus.files += 1
        for article in articles:
            if article.article_id in seen:
                corpus.duplicates += 1
                continue
            seen.add(article.article_id)
            corpus.articles.append(article)
    return corpus


def iter_files(
    paths: Sequence[str | Path], on_error: Callable[[OSError], None] = lambda exc: None
) -> Iterator[Path]:
    """Supported files under ``paths``; hidden files and folders and other suffixes are
    passed over, a folder that cannot be listed goes to ``on_error``."""
    for given in paths:
        root = Path(given)
        try:
            root.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise InputError(
                f"No such file or folder: '{given}'. "
                f"Give existing files ({', '.join(sorted(SUFFIXES))}) or folders holding them."
            ) from None
        except OSError as exc:  # under a folder that cannot be searched
            on_error(exc)
            continue
        if root.is_file():
            if root.suffix.lower() in SUFFIXES:
                yield root
            continue
        yield from sorted(_walk(root, on_error))


def _walk(folder: Path, on_error: Callable[[OSError], None]) -> Iterator[Path]:
    """Files with a supported suffix under ``folder``, not following folder symlinks."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError as exc:
        on_error(exc)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path, on_error)
        elif path.suffix.lower() in SUFFIXES and _is_file(entry):
            yield path


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return True  # reading it will say why it cannot be used


def _skip_folder(corpus: Corpus, exc: OSError) -> None:
    path, reason = str(exc.filename), f"unreadable folder ({exc.strerror or exc})"
    log.warning("Skipping %s: %s", path, reason)
    corpus.skipped.append(Skipped(path, reason, unreadable=True))


def read_text(path: Path) -> tuple[str | None, str]:
    """(text, "") for a usable file, else (None, reason it was skipped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"{UNREADABLE} ({exc.strerror or exc})"
    if b"\x00" in data:
        return None, "binary file"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    if not text.strip():
        return None, "empty file"
    return text, ""


def _read_articles(path: Path, corpus: Corpus) -> list[Article] | None:
    """The file's articles, or None after recording why it was skipped."""
    if path.suffix.lower() in PDF_SUFFIXES:
        articles, reason = _pdf_articles(path)
    else:
        articles, reason = _text_articles(path)
    if not reason and not articles:
        reason = "no article text found"
    if reason:
        log.warning("Skipping %s: %s", path, reason)
        corpus.skipped.append(Skipped(str(path), reason, reason.startswith(UNREADABLE)))
        return None
    return articles


def _text_articles(path: Path) -> tuple[list[Article], str]:
    text, reason = read_text(path)
    if text is None:
        return [], reason
    if path.suffix.lower() in HTML_SUFFIXES:
        page = read_page(text)
        articles = split_articles(page.text, str(path), title_hint=page.meta.title)
        return with_page_meta(articles, page.meta), ""
    return split_articles(text, str(path)), ""


def _pdf_articles(path: Path) -> tuple[list[Article], str]:
    """One article per PDF: its metadata title, else its first line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], f"{UNREADABLE} ({exc.strerror or exc})"
    page, reason = read_pdf(data)
    if page is None:
        return [], reason
    article = one_article(page.text, str(path), title=page.meta.title)
    return with_page_meta([article] if article else [], page.meta), ""
