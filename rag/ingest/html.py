"""HTML to plain text with blank lines between paragraphs, using only ``html.parser``.

Page chrome (scripts, styles, navigation, header, footer, asides, figures) is dropped so the
text splitter sees what a reader would see as the article; ``<h1>`` (or ``<title>``) is kept
aside as a title hint.

>>> html_to_text("<title>T</title><nav>Menu</nav><h1>Rain</h1><p>It will <b>rain</b>.</p>")
('Rain\\n\\nIt will rain.', 'Rain')
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

SKIPPED_TAGS = frozenset(
    {"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg"}
    | {"figure", "figcaption", "iframe", "form", "button", "select"}
)
BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "blockquote", "li", "ul", "ol", "pre", "table"}
    | {"tr", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "body"}
)
_TITLE_SITE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]{1,40}$")  # "Headline | Sky News"


def html_to_text(html: str) -> tuple[str, str]:
    """Return (text with paragraphs separated by blank lines, title hint or "")."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return parser.text(), parser.title_hint()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip_depth = 0
        self._capture: str | None = None  # "title" or "h1" while inside one
        self._captured: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self._current.append("\n")
        elif tag in BLOCK_TAGS:
            self._break()
        if tag in ("title", "h1") and tag not in self._captured:
            self._capture, self._captured[tag] = tag, ""

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS and self._skip_depth:
            self._skip_depth -= 1
        elif tag in BLOCK_TAGS:
            self._break()
        if tag == self._capture:
            self._capture = None

    def handle_data(self, data: str) -> None:
        # The title is kept even when it sits in a skipped <header>: it is the best hint we have.
        if self._capture:
            self._captured[self._capture] += data
        if not self._skip_depth and self._capture != "title":
            self._current.append(re.sub(r"\s+", " ", data))  # source newlines are not breaks

    def _break(self) -> None:
        raw = "".join(self._current)
        self._current = []
        # <br> is a line break; two in a row (a common paragraph separator) end a paragraph.
        for chunk in re.split(r"\n[ \t]*\n", raw):
            lines = (re.sub(r"\s+", " ", line).strip() for line in chunk.split("\n"))
            para = "\n".join(line for line in lines if line)
            if para:
                self._paragraphs.append(para)

    def text(self) -> str:
        self._break()
        return "\n\n".join(self._paragraphs)

    def title_hint(self) -> str:
        h1 = re.sub(r"\s+", " ", self._captured.get("h1", "")).strip()
        title = re.sub(r"\s+", " ", self._captured.get("title", "")).strip()
        return h1 or _TITLE_SITE_SUFFIX.sub("", title)
