"""PDF files to text and metadata, with pypdf (imported on first use).

One PDF is one article: its text is every page's text, its title the document's
metadata title when it has one (else the article's first line, see
:func:`rag.ingest.articles.one_article`). The file's creation date is not taken as the
article's date: it is when the file was made, and a wrong date is worse than "date
unknown".

>>> read_pdf(b"GIF89a not a pdf")
(None, 'not a PDF file')
"""

from __future__ import annotations

import io
import logging

from rag.ingest.webpage import Page, PageMeta

log = logging.getLogger("rag")

MAX_PAGES = 300  # longer is a report or a book, not a news article; reading it takes minutes
_HEAD = 1024  # the "%PDF-" header may follow some junk; readers look this far (PDF 1.7, 7.5.2)


def read_pdf(data: bytes) -> tuple[Page | None, str]:
    """(the PDF's text and metadata, "") or (None, why it cannot be used)."""
    if b"%PDF-" not in data[:_HEAD]:
        return None, "not a PDF file"
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # an empty user password opens many
            return None, "encrypted PDF (it needs a password)"
        if len(reader.pages) > MAX_PAGES:
            return None, f"PDF of {len(reader.pages)} pages (at most {MAX_PAGES})"
        texts = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except Exception as error:  # pypdf raises many kinds on a damaged file: a skip, not a crash
        log.debug("pypdf could not read a PDF: %r", error)
        return None, f"damaged PDF ({type(error).__name__})"
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        return None, "no extractable text (a scanned PDF?)"
    title = _one_line(info.title if info else None)
    return Page(text, PageMeta(title=title, author=_one_line(info.author if info else None))), ""


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) if isinstance(value, str) else ""
