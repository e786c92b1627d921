"""A saved HTML news page to main text and metadata, with trafilatura.

trafilatura finds the article's main text and reads the page's meta tags and JSON-LD
(headline, publisher, author, canonical URL); its date comes from htmldate. Nothing here
fetches anything: the page is passed as a string, never as a URL to download.

>>> page = read_page('<html><head><link rel="canonical" href="https://x.org/rain">'
...     '<meta property="og:site_name" content="Weather Desk">'
...     '<meta property="article:published_time" content="2025-03-07T09:00:00Z">'
...     '</head><body><article><h1>Rain due</h1><p>' + 'It will rain. ' * 20 + '</p>'
...     '</article></body></html>')
>>> page.meta.title, page.meta.publisher, page.meta.published, page.meta.url
('Rain due', 'Weather Desk', '2025-03-07', 'https://x.org/rain')
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace

import trafilatura
from lxml import etree
from trafilatura.settings import Document

from rag.ingest.html import html_to_text
from rag.types import Article

log = logging.getLogger("rag")

# htmldate on the markup only (meta tags, JSON-LD, <time>, the URL): its extensive search
# would take any date in the text, and a wrong date is worse than "date unknown".
DATE_PARAMS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%d"}
_BLOCKS_WITH_ITEMS = frozenset({"list"})


@dataclass(frozen=True)
class PageMeta:
    """What the page's markup says about its main article ("" or None when it says nothing)."""

    title: str = ""
    publisher: str = ""
    published: str | None = None  # ISO date
    author: str = ""
    url: str = ""


@dataclass(frozen=True)
class Page:
    text: str  # paragraphs separated by blank lines
    meta: PageMeta


def read_page(html: str) -> Page:
    """The page's main text and metadata; the plain-HTML reading when trafilatura finds no
    main text (a page of a line or two)."""
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        favor_precision=True,  # keeps paragraphs apart and leaves out figure captions
        include_comments=False,
        include_images=False,
        date_extraction_params=dict(DATE_PARAMS),
    )
    if not isinstance(doc, Document):  # None: no text at all (it gives a dict only if asked)
        doc = None
    text = _body_text(doc.body) if doc is not None and doc.body is not None else ""
    meta = _meta(doc) if doc is not None else PageMeta()
    if not text:
        log.debug("trafilatura found no main text; reading the page as plain HTML")
        text, hint = html_to_text(html)
        meta = replace(meta, title=meta.title or hint)
    return Page(text, meta)


def with_page_meta(articles: list[Article], meta: PageMeta) -> list[Article]:
    """The page's metadata on its articles. The publisher and URL are the page's; the date
    and author are its main article's, so they go on a page of one article only."""
    if not articles:
        return articles
    one = len(articles) == 1
    return [
        replace(
            article,
            publisher=meta.publisher or article.publisher,
            url=meta.url,
            published=meta.published if one else article.published,
            author=meta.author if one else article.author,
        )
        for article in articles
    ]


def _meta(doc: Document) -> PageMeta:
    return PageMeta(
        title=_one_line(doc.title),
        publisher=_one_line(doc.sitename),
        published=doc.date or None,
        author=_one_line(doc.author),
        url=_one_line(doc.url),
    )


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def _body_text(body: etree._Element) -> str:
    """trafilatura's body (``<p>``, ``<head>``, ``<list><item>``, ``<lb/>`` ...) as
    paragraphs separated by blank lines, a line break kept as one newline."""
    paras: list[str] = []
    for block in body:
        parts = list(block) if block.tag in _BLOCKS_WITH_ITEMS else [block]
        paras.extend(filter(None, (_element_text(part) for part in parts)))
    return "\n\n".join(paras)


def _element_text(element: etree._Element) -> str:
    element = copy.deepcopy(element)  # trafilatura's tree is left as it was
    for line_break in element.iter("lb"):
        line_break.text = "\n"
    lines = (" ".join(line.split()) for line in "".join(element.itertext()).split("\n"))
    return "\n".join(line for line in lines if line)
