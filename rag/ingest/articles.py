"""Split one saved page's text into clean articles.

A saved news page may hold several articles one after another. Each starts with a header
("<title> / Published / on / By / <title again>") and ends with "Continue Reading"; a page with
no header is one article whose first line is its title when it looks like one.

>>> [a.title for a in split_articles("Rain due\\n\\nIt will rain. Bring a coat.", "x.txt")]
['Rain due']
"""

from __future__ import annotations

import hashlib
import re

from rag.ingest.dates import parse_date
from rag.ingest.furniture import (
    drop_block_furniture,
    drop_bylines,
    drop_furniture,
    drop_pull_quotes,
    furniture_reason,
)
from rag.types import Article

PUBLISHED = re.compile(r"(?i)^published\b.{0,40}$")  # opens an article's header
END = re.compile(r"(?i)^continue reading$")  # closes an article
_HEADER_REACH = 6  # "Published" further down than this is body text, not a header
_HEADER_LINES = 4  # "Published" / "on" / the date / "By": a date further down is the text's
_TITLE_MAX_CHARS = 80
_WEAK_ENDINGS = {"a", "an", "the", "of", "to", "in", "and", "or", "for", "on", "at", "by", "with"}
_WEAK_ENDINGS |= {"was", "is", "were", "are", "from", "that", "as"}
_SENTENCE_ENDS = tuple('.!?:"”’')
# ESC or its one-byte C1 form, then: an OSC/DCS/... string up to BEL, ST or the line's end;
# a CSI sequence; or one more character.
_ESCAPES = re.compile(
    r"(?:\x1b[]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[^\n]?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all but \t \n \r

# (publisher, cue): the publisher whose cues occur most often on the page wins.
PUBLISHER_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Sky News", re.compile(r"\bSky News\b|\bnews\.sky\.com\b")),
    ("The Week", re.compile(r"\bThe Week\b|\bTheWeek\.com\b")),
    ("BBC News", re.compile(r"\bBBC News\b|\bbbc\.co\.uk/news\b")),
    ("The Guardian", re.compile(r"\btheguardian\.com\b")),
    ("Reuters", re.compile(r"\(Reuters\) -|\breuters\.com\b")),
)


def article_id_for(text: str) -> str:
    """sha256 of the cleaned text, first 16 hex chars: equal texts share one id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_articles(text: str, source: str, title_hint: str = "") -> list[Article]:
    """Every article on the page, cleaned; ``title_hint`` names an untitled first article."""
    text, title_hint = strip_controls(text), strip_controls(title_hint)
    publisher = detect_publisher(text)
    articles = []
    for n, segment in enumerate(_segments(paragraphs(text))):
        title, body = _title_and_body(segment, title_hint if n == 0 else "")
        if not body:
            continue
        derived = not title
        clean = "\n\n".join(body)
        articles.append(
            Article(
                article_id=article_id_for(clean),
                title=title or derive_title(body[0]),
                text=clean,
                source=source,
                publisher=publisher,
                title_derived=derived,
                published=header_date(segment),
            )
        )
    return articles


def one_article(text: str, source: str, title: str = "") -> Article | None:
    """The whole text as one article (a PDF), titled ``title``, else by its first line when
    that looks like a title, else by its first sentence; None when no text is left.

    >>> one_article("Rain due\\nIt will rain. Bring a coat.\\nRoads may flood.", "r.pdf").title
    'Rain due'
    """
    text, title = strip_controls(text), strip_controls(title)
    if not title:
        first, _, rest = text.strip().partition("\n")
        if _title_like(_tidy(first)) and rest.strip():
            title, text = _tidy(first), rest
    body = _clean(paragraphs(text))
    if body and title and _same_text(body[0], title):
        body = body[1:]
    if not body:
        return None
    clean = "\n\n".join(body)
    return Article(
        article_id=article_id_for(clean),
        title=title or derive_title(body[0]),
        text=clean,
        source=source,
        publisher=detect_publisher(text),
        title_derived=not title,
    )


def header_date(segment: list[str]) -> str | None:
    """The date in an article's "Published ... on ..." header, None when it gives none.

    >>> header_date(["Rain due", "Published", "on", "7 March 2025", "By Ann Lee", "It rained."])
    '2025-03-07'
    """
    header = _header(segment)
    if header is None:
        return None
    lines = segment[header : header + _HEADER_LINES]
    return next(filter(None, (parse_date(line) for line in lines if len(line) <= 60)), None)


def strip_controls(text: str) -> str:
    r"""Drop terminal escape sequences and control characters, keeping line breaks and tabs.

    A saved page can carry ANSI/OSC sequences that would clear the screen or retitle the
    terminal when ``rag search`` prints a passage.

    >>> strip_controls("Rain\x1b[2J due\x1b]0;pwned\x07 today\x00\n\x9b31mnext")
    'Rain due today\nnext'
    """
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def detect_publisher(text: str) -> str:
    """The publisher the page mentions most by its cues, "" when none."""
    counts = {name: len(cue.findall(text)) for name, cue in PUBLISHER_CUES}
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else ""


def paragraphs(text: str) -> list[str]:
    """Blank-line blocks, cut into one paragraph per line unless the block is hard-wrapped."""
    paras: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [_tidy(line) for line in block.split("\n")]
        lines = [line for line in lines if line]
        kept = drop_block_furniture(lines)
        if kept and _hard_wrapped(lines):
            paras.append(" ".join(kept))
        else:
            paras.extend(_join_continuations(kept))
    return paras


def derive_title(first_paragraph: str) -> str:
    """A title from the first sentence, shortened on a word boundary.

    >>> derive_title("The march into Kabul was the result of long-term planning and opportunism.")
    'The march into Kabul was the result of long-term planning and opportunism'
    """
    sentence = re.split(r"(?<=[.!?])\s+", first_paragraph)[0].rstrip(".")
    if len(sentence) <= _TITLE_MAX_CHARS:
        return sentence
    words = sentence[: _TITLE_MAX_CHARS + 1].split()[:-1]  # the last word may be cut
    while len(words) > 3 and words[-1].lower() in _WEAK_ENDINGS:
        words.pop()
    return " ".join(words).rstrip(",;:–-") + "…"


def _segments(paras: list[str]) -> list[list[str]]:
    """Cut the page at each "Continue Reading" and before each header's title line."""
    segments: list[list[str]] = [[]]
    for para in paras:
        if END.match(para):
            segments.append([])
            continue
        current = segments[-1]
        if PUBLISHED.match(para) and any(not furniture_reason(p) for p in current[:-1]):
            title = current.pop() if current and not furniture_reason(current[-1]) else None
            segments.append([title] if title else [])
        segments[-1].append(para)
    return [s for s in segments if s]


def _title_and_body(segment: list[str], hint: str) -> tuple[str, list[str]]:
    """The shown title ("" when none) and the cleaned body paragraphs."""
    header = _header(segment)
    if header is not None:
        before = drop_furniture(segment[:header])
        title, body = (before[-1] if before else ""), _clean(segment[header + 1 :])
    else:
        body = _clean(segment)
        title = body[0] if len(body) > 1 and _title_like(body[0]) and not hint else ""
        body = body[1:] if title else body
    title = title or hint  # an HTML <h1>/<title> beats guessing from the body
    if body and title and _same_text(body[0], title):
        body = body[1:]  # the header repeats the title, often with straight quotes
    return title, body


def _header(segment: list[str]) -> int | None:
    return next((i for i, p in enumerate(segment[:_HEADER_REACH]) if PUBLISHED.match(p)), None)


def _clean(paras: list[str]) -> list[str]:
    return drop_pull_quotes(drop_bylines(drop_furniture(paras)))


def _title_like(para: str) -> bool:
    return len(para.split()) <= 25 and not para.rstrip("\"'”’").endswith((".", ",", ";", ":"))


def _same_text(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s.translate(_QUOTES).lower()).strip()

    return norm(a) == norm(b)


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _tidy(line: str) -> str:
    line = re.sub(r"^#{1,6}\s+", "", line.strip())  # Markdown heading marks
    return re.sub(r"[ \t\u00a0\u200b]+", " ", line).strip()


def _join_continuations(lines: list[str]) -> list[str]:
    """Rejoin a sentence broken over two lines ("were issued" / "for three towns.")."""
    joined: list[str] = []
    for line in lines:
        if joined and line[0].islower() and not joined[-1].endswith(_SENTENCE_ENDS):
            joined[-1] += " " + line
        else:
            joined.append(line)
    return joined


def _hard_wrapped(lines: list[str]) -> bool:
    """Lines cut at a fixed width mid-sentence (as in e-mail or plain-text saves)."""
    inner = lines[:-1]
    if not inner or max(len(line) for line in lines) > 100:
        return False
    mid_sentence = [ln for ln in inner if len(ln) >= 40 and not ln.endswith(_SENTENCE_ENDS)]
    return len(mid_sentence) * 2 >= len(inner)
