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

from rag.text.markers import strip_markers
from rag.text.sentences import sentence_spans, split_sentences
from rag.text.words import overlap, tokens
from rag.types import Answer, Citation

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


def source_html(citation: Citation, answer_text: str) -> str:
    hit = citation.hit
    spans = mark_spans(hit.text, cited_claims(answer_text, citation.n))
    publisher = f"{html_text(hit.publisher)} · " if hit.publisher else ""
    title = html_text(hit.title or "(untitled)")
    return (
        f'<div class="rag-source" data-n="{citation.n}">'
        f'<div class="rag-source-title"><b>[{citation.n}]</b> {title}'
        f'</div><div class="rag-source-file">{publisher}<code>{html_text(hit.source)}</code></div>'
        f'<div class="rag-passage">{passage_html(hit.text, spans)}</div></div>'
    )


def sources_html(answer: Answer) -> str:
    """A collapsible list of the answer's citations; empty when it cites nothing."""
    if not answer.citations:
        return ""
    cards = "".join(source_html(c, answer.text) for c in answer.citations)
    label = "Source" if len(answer.citations) == 1 else f"Sources ({len(answer.citations)})"
    return f'<details class="rag-sources" open><summary>{label}</summary>{cards}</details>'


def searched_html(answer: Answer, n: int = 3) -> str:
    """A refusal's closest passages searched (collapsed), so the reader sees what was looked at."""
    if not answer.sources:
        return ""
    items = "".join(
        f"<li><b>{html_text(hit.title or '(untitled)')}</b> — {html_text(_opening(hit.text))}</li>"
        for hit in answer.sources[:n]
    )
    return (
        '<details class="rag-searched"><summary>Closest passages searched</summary>'
        f"<ol>{items}</ol></details>"
    )


def _opening(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + "…"
