"""The Articles panel: add files to the index from the browser, see the articles, remove one.

Uploads go through :mod:`rag.ingest.uploads` (checks, then a copy named by its hash under
the index folder) and :meth:`rag.kb.KnowledgeBase.add`; removal through
:meth:`~rag.kb.KnowledgeBase.remove`. Both swap the live index once written, so the next
question, in any session, sees the change; a question being answered meanwhile finishes
on the index as it was. One change runs at a time (``concurrency_id="index"``).

>>> result_row("rain.txt", FileResult("x", "indexed", "", ("Rain due",), 2))
['rain.txt', 'indexed', '1 article, 2 passages: Rain due']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import RagError
from rag.index.changes import FileResult
from rag.ingest import uploads
from rag.ingest.files import SUFFIXES
from rag.kb import KnowledgeBase
from ui.render import markdown_text, where_from

log = logging.getLogger(__name__)

COLUMNS = ["Title", "Publisher", "Date", "Passages", "From"]
RESULT_COLUMNS = ["File", "Result", "Details"]
FILE_TYPES = sorted(SUFFIXES)
ABOUT = (
    f"Add `.txt`, `.md`, `.html`/`.htm` or `.pdf` files: at most {uploads.MAX_FILES} files "
    f"at once, {uploads.MAX_FILE_MB} MB each. They are copied into the index folder and "
    "can be asked about as soon as they are indexed; their names are only shown, never used."
)
BUG = "⚠️ Something went wrong (the details are in the server log). The index is unchanged."
PROGRESS = gr.Progress()  # Gradio finds a handler's progress bar by this default value
Refresh = Callable[[], list[Any]]  # updates for the app's own outputs (examples, index line)


@dataclass(frozen=True)
class Panel:
    files: gr.File
    add: gr.Button
    results: gr.Dataframe
    table: gr.Dataframe
    ids: gr.State  # the article id of each table row, in this session
    choice: gr.Dropdown
    remove: gr.Button
    confirm: gr.Group
    question: gr.Markdown  # "Remove “…”?"
    yes: gr.Button
    no: gr.Button
    status: gr.Markdown


def articles_panel(kb: KnowledgeBase) -> Panel:
    """The folded panel's components, filled from ``kb``."""
    rows, ids, choices = listing(kb)
    with gr.Accordion("Articles: add, see and remove", open=False, elem_id="articles"):
        gr.Markdown(ABOUT)
        files = gr.File(label="Files to add", file_count="multiple", file_types=FILE_TYPES,
                        type="filepath", elem_id="upload-files", height=140)  # fmt: skip
        add = gr.Button("Add to the index", variant="primary", elem_id="add-files")
        results = gr.Dataframe(headers=RESULT_COLUMNS, label="Upload results", visible=False,
                               interactive=False, wrap=True, elem_id="upload-results")  # fmt: skip
        status = gr.Markdown(elem_id="articles-status")
        table = gr.Dataframe(value=rows, headers=COLUMNS, label="Indexed articles (click one "
                             "to choose it)", interactive=False, wrap=True,
                             column_widths=["42%", "16%", "12%", "10%", "20%"],
                             elem_id="article-list")  # fmt: skip
        with gr.Row(equal_height=True):
            choice = gr.Dropdown(choices, value=None, label="Article to remove",
                                 elem_id="remove-choice", scale=4)  # fmt: skip
            remove = gr.Button("Remove…", variant="stop", elem_id="remove-article", scale=1)
        with gr.Group(visible=False) as confirm:
            question = gr.Markdown(elem_id="remove-question")
            with gr.Row():
                yes = gr.Button("Yes, remove it", variant="stop", elem_id="remove-yes")
                no = gr.Button("Cancel", elem_id="remove-no")
    return Panel(files, add, results, table, gr.State(ids), choice, remove, confirm, question,
                 yes, no, status)  # fmt: skip


def wire(panel: Panel, kb: KnowledgeBase, extra: Sequence[Any], refresh: Refresh) -> None:
    """The panel's events; ``extra`` are app outputs updated by ``refresh`` after a change."""
    p, skip = panel, [gr.skip()] * (3 + len(extra))  # the listing and ``extra`` left as they are
    listed = [p.table, p.ids, p.choice]
    p.add.click(_adder(kb, refresh, skip), p.files, [p.results, p.files, p.status, *listed, *extra],
                concurrency_id="index", concurrency_limit=1, show_progress_on=[p.results],
                api_visibility="private")  # fmt: skip
    p.table.select(_pick, p.ids, p.choice, show_progress="hidden", api_visibility="private")
    p.remove.click(_confirm(kb), p.choice, [p.confirm, p.question, p.status],
                   show_progress="hidden", api_visibility="private")  # fmt: skip
    p.no.click(lambda: gr.update(visible=False), None, p.confirm, show_progress="hidden",
               api_visibility="private")  # fmt: skip
    p.yes.click(_remover(kb, refresh, skip), p.choice, [p.confirm, p.status, *listed, *extra],
                concurrency_id="index", concurrency_limit=1, show_progress="hidden",
                api_visibility="private")  # fmt: skip


def listing(kb: KnowledgeBase) -> tuple[list[list[Any]], list[str], list[tuple[str, str]]]:
    """The table's rows, their article ids, and the remove list's (label, id) choices."""
    names = uploads.names(kb.uploads_dir)
    rows, ids, choices = [], [], []
    for article in kb.articles():
        source = str(article["source"])
        upload = names.get(str(Path(source).resolve()))
        date = str(article["published"] or "")[:10] or "date unknown"
        where = f"upload: {upload}" if upload else where_from(source, str(article["url"] or ""))
        rows.append([article["title"], article["publisher"] or "", date, article["chunks"], where])
        ids.append(str(article["article_id"]))
        choices.append((f"{article['title']} ({date})", str(article["article_id"])))
    return rows, ids, choices


def result_row(name: str, result: FileResult) -> list[str]:
    """One line of the upload results: the file's name as uploaded, what became of it."""
    if result.status != "indexed":
        return [name, "skipped", result.reason]
    n, chunks = len(result.titles), result.chunks
    what = f"{n} article{'s' * (n != 1)}, {chunks} passage{'s' * (chunks != 1)}: "
    what += "; ".join(result.titles)
    return [name, "indexed", f"{what} ({result.reason})" if result.reason else what]


def _listed(kb: KnowledgeBase) -> list[Any]:
    rows, ids, choices = listing(kb)
    return [rows, ids, gr.update(choices=choices, value=None)]


def _adder(kb: KnowledgeBase, refresh: Refresh, skip: list[Any]) -> Any:
    def add(files: list[str] | None, progress: gr.Progress = PROGRESS) -> list[Any]:
        given = [Path(f) for f in files or []]
        if not given:
            return [gr.skip(), gr.skip(), "Choose files to add first.", *skip]
        try:
            rows = add_uploads(kb, given, lambda done, what: progress(done, desc=what))
        except RagError as error:
            return [gr.skip(), None, f"⚠️ {markdown_text(str(error))}", *skip]
        except Exception:  # a bug: the writer never committed, so the index is as it was
            log.exception("adding %d uploaded files failed", len(given))
            return [gr.skip(), None, BUG, *skip]
        added = sum(row[1] == "indexed" for row in rows)
        summary = f"Indexed {added} of {len(rows)} file{'s' * (len(rows) != 1)}."
        return [gr.update(value=rows, visible=True), None, summary, *_listed(kb), *refresh()]

    return add


def add_uploads(
    kb: KnowledgeBase, given: list[Path], progress: Callable[[float, str], None]
) -> list[list[str]]:
    """Check, keep and index uploaded files (as Gradio stored them, under their names);
    one result row per file, in order. Files beyond the count limit are skipped."""
    kept, rows = [], {}
    for i, path in enumerate(given):
        progress(0.05 * i / len(given), "checking the files")
        name = uploads.display_name(path.name)
        if i >= uploads.MAX_FILES:
            rows[i] = [name, "skipped", f"over the limit of {uploads.MAX_FILES} files at once"]
            continue
        received = uploads.receive(path, path.name, kb.uploads_dir)
        if received.path is None:
            rows[i] = [name, "skipped", received.reason]
        else:
            kept.append((i, received))
    results = kb.add([r.path for _, r in kept if r.path], progress=progress) if kept else []
    held = {Path(str(a["source"])).resolve() for a in kb.articles()}
    for (i, received), result in zip(kept, results, strict=True):
        rows[i] = result_row(received.name, result)
        if received.path and received.path.resolve() not in held:
            uploads.forget(received.path, kb.uploads_dir)  # nothing was indexed from it
    return [rows[i] for i in range(len(given))]


def _pick(ids: list[str], evt: gr.SelectData) -> Any:
    row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
    return ids[row] if isinstance(row, int) and 0 <= row < len(ids) else gr.skip()


def _confirm(kb: KnowledgeBase) -> Any:
    def confirm(article_id: str | None) -> list[Any]:
        title = next((a["title"] for a in kb.articles() if a["article_id"] == article_id), None)
        if title is None:
            return [gr.update(visible=False), "", "Choose an article to remove first."]
        ask = f"Remove “{markdown_text(title)}” from the index? Questions will no longer find it."
        return [gr.update(visible=True), ask, ""]

    return confirm


def _remover(kb: KnowledgeBase, refresh: Refresh, skip: list[Any]) -> Any:
    def remove(article_id: str | None) -> list[Any]:
        hidden = gr.update(visible=False)
        try:
            row = kb.remove(article_id or "")
        except RagError as error:
            return [hidden, f"⚠️ {markdown_text(str(error))}", *skip]
        done = f"Removed “{markdown_text(str(row['title']))}”."
        return [hidden, done, *_listed(kb), *refresh()]

    return remove
