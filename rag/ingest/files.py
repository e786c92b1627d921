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
NO_ARTICLES = "no article text found"


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
    seen: set[str] = field(default_factory=set, repr=False)  # the ids of ``articles``

    def take(self, path: str, articles: Sequence[Article], reason: str) -> None:
        """Record one file's articles (each article once in the corpus), or, with a
        ``reason``, why it gave none: a warning naming it. Both engines
        (``rag.index.indexer``) assemble their corpus through this, file by file in order."""
        if reason:
            log.warning("Skipping %s: %s", path, reason)
            self.skipped.append(Skipped(path, reason, reason.startswith(UNREADABLE)))
            return
        self.files += 1
        for article in articles:
            if article.article_id in self.seen:
                self.duplicates += 1
                continue
            self.seen.add(article.article_id)
            self.articles.append(article)


def load_corpus(paths: Sequence[str | Path]) -> Corpus:
    """Read every supported file under ``paths`` (files or folders, walked in sorted order)."""
    corpus = Corpus()
    for path in iter_files(paths, partial(skip_folder, corpus)):
        corpus.take(str(path), *read_articles(path))
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


def skip_folder(corpus: Corpus, exc: OSError) -> None:
    """Record a folder that could not be listed (``iter_files``'s ``on_error``)."""
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


def read_articles(path: Path) -> tuple[list[Article], str]:
    """The file's articles and "", or no articles and the reason it is skipped."""
    if path.suffix.lower() in PDF_SUFFIXES:
        articles, reason = pdf_articles(path)
    else:
        text, reason = read_text(path)
        articles = [] if text is None else split_text(path, text)
    if not reason and not articles:
        reason = NO_ARTICLES
    return articles, reason


def split_text(path: Path, text: str) -> list[Article]:
    """The articles of one file's text: a saved HTML page through its reader, else as text."""
    if path.suffix.lower() in HTML_SUFFIXES:
        page = read_page(text)
        articles = split_articles(page.text, str(path), title_hint=page.meta.title)
        return with_page_meta(articles, page.meta)
    return split_articles(text, str(path))


def pdf_articles(path: Path) -> tuple[list[Article], str]:
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
