"""Turn answers and their sources into safe Markdown/HTML for the chat.

Every piece of text that came from an article, a backend or a user is escaped
here, so an article holding ``<script>`` or ``<img onerror=...>`` shows as text.
The Chatbot renders Markdown, then HTML; Markdown text is HTML-escaped *and* has
its punctuation backslash-escaped (no links, images or emphasis smuggled in),
text inside our own HTML blocks is HTML-escaped only (Markdown is not applied
inside an HTML block, so a backslash would show).

>>> markdown_text("<b>5 * 3</b> [1]")
'&lt;b&gt;5 \\\\* 3&lt;/b&gt; \\\\[1\\\\]'
>>> html_text("<img src=x onerror=alert(1)>")
'&lt;img src=x onerror=alert(1)&gt;'
"""

from __future__ import annotations

import html
import re
from pathlib import Path, PurePath

from rag.text.markers import strip_markers
from rag.text.sentences import sentence_spans, split_sentences
from rag.text.words import overlap, tokens
from rag.types import Answer, Citation, Hit

# ASCII punctuation Markdown (and Gradio's LaTeX/templating) may act on; CommonMark
# renders a backslash-escaped punctuation character as itself.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$>=:])")
MIN_OVERLAP = 0.5  # share of a cited claim's words a passage sentence must hold to be marked


def markdown_text(text: str) -> str:
    """Escape ``text`` for a Markdown component: shows literally, renders nothing."""
    escaped = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def html_text(text: str) -> str:
    """Escape ``text`` for the inside of an HTML element (quotes too, and ``$``)."""
    return html.escape(text, quote=True).replace("$", "&#36;")


def cited_claims(answer_text: str, n: int) -> list[str]:
    """The answer's sentences that carry the marker ``[n]``, without their markers."""
    marker = f"[{n}]"
    return [strip_markers(s) for s in split_sentences(answer_text) if marker in s]


def mark_spans(passage: str, claims: list[str]) -> list[tuple[int, int]]:
    """Offsets in ``passage`` of the sentences a claim quotes (or overlaps most).

    >>> mark_spans("Drones flew. Ukraine makes 500 drones a month. Rain.",
    ...            ["Ukraine makes 500 drones a month."])
    [(13, 46)]
    """
    sentences = sentence_spans(passage, line_breaks=True)
    spans: set[tuple[int, int]] = set()
    for claim in claims:
        quoted = _verbatim(passage, claim)
        if quoted:
            spans.add(quoted)
            continue
        words = set(tokens(claim))
        scored = [(overlap(words, set(tokens(passage[a:b]))), (a, b)) for a, b in sentences]
        if words and scored:
            best, span = max(scored)
            if best >= MIN_OVERLAP:
                spans.add(span)
    return sorted(spans)


def _verbatim(passage: str, claim: str) -> tuple[int, int] | None:
    """The claim found word for word (spacing aside), with its closing punctuation."""
    claim = claim.strip().rstrip(".!?…")
    if len(claim.split()) < 3:
        return None
    pattern = r"\s+".join(re.escape(word) for word in claim.split()) + r"[.!?…\"'”’)]*"
    found = re.search(pattern, passage)
    return (found.start(), found.end()) if found else None


def passage_html(passage: str, spans: list[tuple[int, int]]) -> str:
    """The passage, escaped, with each span in ``<mark>``; line breaks kept."""
    parts, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue  # overlapping spans: the first one wins
        parts.append(html_text(passage[cursor:start]))
        parts.append(f"<mark>{html_text(passage[start:end])}</mark>")
        cursor = end
    parts.append(html_text(passage[cursor:]))
    # No blank line may appear: it would end the HTML block and start Markdown.
    return re.sub(r"\s*\n\s*", "<br>", "".join(parts).strip())


def cite_id(key: str, n: int) -> str:
    """The anchor of source card ``n`` of the answer ``key`` (unique on the page)."""
    return f"rag-{key}-{n}"


def linked_markers(escaped: str, answer: Answer, key: str) -> str:
    """``escaped`` (from :func:`markdown_text`) with each ``\\[n\\]`` made a link to its card,
    titled with the sentence it cites (shown on hover and focus).

    >>> hit = Hit("a:0", "a", "T", "x.txt", "Rain fell. Kyiv builds drones.", 0, 30, 1.0)
    >>> answer = Answer("Q?", "Kyiv builds drones [1]", [Citation(1, hit)], False, [hit], "x")
    >>> print(linked_markers(markdown_text(answer.text), answer, "a0"))
    Kyiv builds drones <a class="rag-cite" href="#rag-a0-1" title="[1] Kyiv builds drones.">[1]</a>
    """
    previews = {c.n: _preview(c, answer.text) for c in answer.citations}

    def link(found: re.Match[str]) -> str:
        n = int(found.group(1))
        if n not in previews:
            return found.group(0)
        title = html_text(f"[{n}] {previews[n]}")
        return f'<a class="rag-cite" href="#{cite_id(key, n)}" title="{title}">[{n}]</a>'

    return re.sub(r"\\\[(\d+)\\\]", link, escaped)


def _preview(citation: Citation, answer_text: str) -> str:
    """The cited passage's marked sentence(s), or its opening when none is marked."""
    text = citation.hit.text
    spans = mark_spans(text, cited_claims(answer_text, citation.n))
    quoted = " … ".join(" ".join(text[a:b].split()) for a, b in spans)
    return shorten(quoted or text, 240)


def source_path(hit: Hit) -> str:
    """Where the article came from: its URL when known, else a relative file path.

    >>> source_path(Hit("a:0", "a", "T", "/srv/news/seeds/001.txt", "x", 0, 1, 1.0))
    '001.txt'
    """
    return where_from(hit.source, hit.url)


def where_from(source: str, url: str = "") -> str:
    """An article's URL when known, else its file as a relative path (never an absolute one)."""
    if url.startswith(("http://", "https://")):
        return url
    path = PurePath(source)
    if not path.is_absolute():
        return str(path)
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return path.name  # never the server's absolute path


def source_html(citation: Citation, answer_text: str, key: str = "a0") -> str:
    """One card: number, title, publisher, date, where from, the passage (cited sentence marked)."""
    hit = citation.hit
    spans = mark_spans(hit.text, cited_claims(answer_text, citation.n))
    anchor = f'id="{cite_id(key, citation.n)}" data-n="{citation.n}"'
    return _card(hit, spans, f"[{citation.n}]", anchor)


def _card(hit: Hit, spans: list[tuple[int, int]], label: str, anchor: str = "") -> str:
    publisher = f"{html_text(hit.publisher)} · " if hit.publisher else ""
    where = html_text(source_path(hit))
    ident = f" {anchor}" if anchor else ""
    return (
        f'<div class="rag-source"{ident} tabindex="-1">'
        f'<div class="rag-source-title"><b>{label}</b> {html_text(hit.title or "(untitled)")}'
        f'</div><div class="rag-source-file">{publisher}{html_text(hit.date)} · '
        f"<code>{where}</code></div>"
        f'<div class="rag-passage">{passage_html(hit.text, spans)}</div></div>'
    )


def sources_html(answer: Answer, key: str = "a0") -> str:
    """The cited sources (open), then the other passages searched (folded); "" when none."""
    cited = "".join(source_html(c, answer.text, key) for c in answer.citations)
    if cited:
        n = len(answer.citations)
        label = "Source" if n == 1 else f"Sources ({n})"
        cited = f'<details class="rag-sources" open><summary>{label}</summary>{cited}</details>'
    return cited + searched_html(answer)


def searched_html(answer: Answer) -> str:
    """The passages searched but not cited, folded, so the reader sees what was looked at."""
    used = {c.hit.chunk_id for c in answer.citations}
    rest = [hit for hit in answer.sources if hit.chunk_id not in used]
    if not rest:
        return ""
    cards = "".join(_card(hit, [], "·") for hit in rest)
    label = "Other passages searched" if used else "Passages searched"
    return (
        f'<details class="rag-searched"><summary>{label} ({len(rest)})</summary>{cards}</details>'
    )


def shorten(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut at a word boundary with "…" when longer than ``limit``.

    >>> shorten("Drone strikes weaken Russia's army", 20)
    'Drone strikes…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"
