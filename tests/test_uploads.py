"""Adding files to a live index and removing articles: PDFs, the upload checks, kb.add/remove."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pytest

import rag
from rag.errors import InputError
from rag.ingest import uploads
from rag.ingest.files import load_corpus
from rag.ingest.pdf import read_pdf

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
HARBOUR = """Harbour festival draws record crowds
The Harbour Festival opened on Saturday with a parade of forty boats. Organisers said the \
festival drew twelve thousand visitors on its first day, a record for the town.
The festival runs for nine days and ends with fireworks over the bay. Local bakers sold more \
than four thousand pies, the organisers said.
"""
QUESTION = "How many visitors did the Harbour Festival draw on its first day?"
ANSWER = "twelve thousand visitors"


def make_pdf(lines: list[str], title: str = "", author: str = "") -> bytes:
    """A one-page PDF with ``lines`` of Helvetica text, written by hand (PDF 1.4, 7.5)."""

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    shown = " ".join(f"{literal(line)} Tj T*" for line in lines)
    stream = f"BT /F1 11 Tf 14 TL 72 720 Td {shown} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    info = " ".join(f"/{k} {literal(v)}" for k, v in (("Title", title), ("Author", author)) if v)
    objects.append(f"<< {info} >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


PDF_LINES = [
    "Ferry strike ends after three days",
    "Ferry crews returned to work on Thursday after a three-day strike over pay.",
    "The union said its members had accepted a rise of six per cent.",
]


# --- PDF -------------------------------------------------------------------------------


def test_a_pdf_is_one_article_titled_by_its_metadata(tmp_path: Path) -> None:
    (tmp_path / "f.pdf").write_bytes(make_pdf(PDF_LINES, title="Ferries sail again", author="Ann"))
    [article] = load_corpus([tmp_path]).articles
    assert (article.title, article.author, article.published) == ("Ferries sail again", "Ann", None)
    assert "accepted a rise of six per cent" in article.text
    assert article.text.startswith("Ferry strike ends")  # the first line is text here


def test_a_pdf_without_a_title_takes_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "f.pdf").write_bytes(make_pdf(PDF_LINES))
    [article] = load_corpus([tmp_path]).articles
    assert article.title == "Ferry strike ends after three days" and not article.title_derived
    assert article.text.startswith("Ferry crews returned to work")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a\x00\x01 an image renamed", "not a PDF file"),
        (make_pdf([]), "no extractable text (a scanned PDF?)"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n", "damaged PDF"),
    ],
)
def test_a_pdf_that_gives_no_text_is_skipped_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, data: bytes, reason: str
) -> None:
    (tmp_path / "bad.pdf").write_bytes(data)
    (tmp_path / "ok.pdf").write_bytes(make_pdf(PDF_LINES))
    with caplog.at_level(logging.WARNING, logger="rag"):
        corpus = load_corpus([tmp_path])
    assert [s.reason.split(" (")[0] for s in corpus.skipped] == [reason.split(" (")[0]]
    assert len(corpus.articles) == 1 and "bad.pdf" in caplog.text


def test_rag_index_of_a_folder_with_a_pdf(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "ferry.pdf").write_bytes(make_pdf(PDF_LINES))
    kb = rag.build(corpus, tmp_path / "index", embedder="hash:64", progress=False)
    assert kb.report is not None and (kb.report.files, kb.report.articles) == (3, 6)
    [hit] = kb.search("ferry crews strike over pay", k=1, mode="bm25")
    assert hit.title == "Ferry strike ends after three days" and hit.source.endswith("ferry.pdf")


# --- the upload checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("tool.exe", b"MZ\x90\x00", "unsupported type .exe"),
        ("README", b"Plain words.", "unsupported type (no extension)"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\n", "empty file"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin.txt", "Café crème".encode("latin-1"), "not UTF-8 text"),
        ("image.pdf", b"\xff\xd8\xff\xe0 a jpeg", "not a PDF file"),
    ],
)
def test_a_refused_upload_says_why_and_keeps_nothing(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    sent = tmp_path / "sent"
    sent.write_bytes(data)
    received = uploads.receive(sent, name, tmp_path / "uploads")
    assert received.path is None and received.reason.startswith(reason), received.reason
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    sent = tmp_path / "big.txt"
    with sent.open("wb") as out:  # sparse: no 5 MB written
        out.truncate(uploads.MAX_FILE_BYTES + 1)
    received = uploads.receive(sent, "big.txt", tmp_path / "uploads")
    assert received.reason == f"too large (5.1 MB; at most {uploads.MAX_FILE_MB} MB a file)"
    just_right = tmp_path / "ok.txt"
    just_right.write_bytes(b"x" * (uploads.MAX_FILE_BYTES - 1) + b"\n")
    assert uploads.check(just_right, "ok.txt") == ""


@pytest.mark.parametrize("name", ["../../etc/x.txt", "..\\..\\x.txt", "/etc/cron.d/x.txt"])
def test_an_upload_name_is_never_a_path(tmp_path: Path, name: str) -> None:
    sent = tmp_path / "sent"
    sent.write_text(HARBOUR, encoding="utf-8")
    folder = tmp_path / "index" / "uploads"
    received = uploads.receive(sent, name, folder)
    assert received.path is not None and received.path.parent == folder
    assert received.name == "x.txt" and received.path.name != "x.txt"
    assert received.path.read_text(encoding="utf-8") == HARBOUR
    assert not (tmp_path / "etc").exists() and not Path("/etc/x.txt").exists()
    assert uploads.names(folder) == {str(received.path.resolve()): "x.txt"}
    again = uploads.receive(sent, "other.txt", folder)  # the same bytes: the same copy
    assert again.path == received.path


def test_read_pdf_refuses_what_is_not_one() -> None:
    assert read_pdf(b"<html>not a pdf</html>") == (None, "not a PDF file")


# --- kb.add and kb.remove -----------------------------------------------------------------


@pytest.fixture
def kb(tmp_path: Path) -> rag.KnowledgeBase:
    """A private index of the seeds (the hash embedder) that a test may change."""
    return rag.build(SEEDS, tmp_path / "index", embedder="hash:256", progress=False)


def test_add_indexes_new_files_and_says_why_others_were_skipped(
    kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    good, binary, dup = tmp_path / "h.txt", tmp_path / "b.txt", tmp_path / "dup.txt"
    good.write_text(HARBOUR, encoding="utf-8")
    binary.write_bytes(b"\x00\x01binary")
    shutil.copy(SEEDS / "001_0a9e7fd5bd2f9d69.txt", dup)
    before = len(kb.articles())
    steps: list[tuple[float, str]] = []
    results = kb.add([good, binary, dup], progress=lambda done, what: steps.append((done, what)))
    assert [(r.status, r.reason) for r in results] == [
        ("indexed", ""), ("skipped", "binary file"), ("skipped", "duplicate: already in the index")
    ]  # fmt: skip
    assert results[0].titles == ("Harbour festival draws record crowds",) and results[0].chunks
    assert [d for d, _ in steps] == sorted(d for d, _ in steps) and steps[-1][
        1
    ] == "saving the index"
    assert len(kb.articles()) == before + 1
    [hit] = kb.search(QUESTION, k=1)  # the live kb sees it at once
    assert hit.title == "Harbour festival draws record crowds"
    answer = kb.ask(QUESTION, backend="extractive")
    assert ANSWER in answer.text and answer.citations[0].hit.source == str(good)
    assert len(rag.load(kb.index_dir).articles()) == before + 1  # and so does the disk


def test_remove_takes_an_article_out_and_forgets_its_upload(
    kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    sent = tmp_path / "sent"
    sent.write_text(HARBOUR, encoding="utf-8")
    copy = uploads.receive(sent, "harbour.txt", kb.uploads_dir).path
    assert copy is not None
    [result] = kb.add([copy])
    [added] = [a for a in kb.articles() if a["title"] == result.titles[0]]
    row = kb.remove(added["article_id"])
    assert row["title"] == "Harbour festival draws record crowds"
    assert added["article_id"] not in {a["article_id"] for a in kb.articles()}
    assert all(h.title != row["title"] for h in kb.search(QUESTION, k=10))
    assert not copy.exists() and uploads.names(kb.uploads_dir) == {}
    assert len(rag.load(kb.index_dir).articles()) == 5
    seed = kb.articles()[0]
    kb.remove(seed["article_id"])  # a seed article: its file is not the index's to delete
    assert Path(seed["source"]).exists() and len(kb.articles()) == 4
    with pytest.raises(InputError, match="no article 'nope'"):
        kb.remove("nope")


def test_a_failed_add_changes_nothing(kb: rag.KnowledgeBase, tmp_path: Path) -> None:
    good = tmp_path / "h.txt"
    good.write_text(HARBOUR, encoding="utf-8")

    def fail(done: float, what: str) -> None:
        if what.startswith("embedding"):
            raise RuntimeError("killed while embedding")

    with pytest.raises(RuntimeError):
        kb.add([good], progress=fail)
    assert len(kb.articles()) == 5 and len(rag.load(kb.index_dir).articles()) == 5
    assert kb.add([good])[0].status == "indexed"  # the lock and the files were released


def test_questions_are_answered_while_an_add_is_being_written(
    kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    good = tmp_path / "h.txt"
    good.write_text(HARBOUR, encoding="utf-8")
    embedding, go_on = threading.Event(), threading.Event()

    def hold(done: float, what: str) -> None:
        if what.startswith("embedding"):
            embedding.set()
            assert go_on.wait(10)

    adding = threading.Thread(target=kb.add, args=([good],), kwargs={"progress": hold})
    adding.start()
    try:
        assert embedding.wait(10)
        before = kb.ask(QUESTION, backend="extractive")  # the index as it was: no harbour
        assert ANSWER not in before.text and len(kb.articles()) == 5
    finally:
        go_on.set()
        adding.join(10)
    assert ANSWER in kb.ask(QUESTION, backend="extractive").text


# --- the chat's panel, without a browser ---------------------------------------------------


def test_the_panel_keeps_indexes_and_lists_uploads_within_the_limits(
    kb: rag.KnowledgeBase, tmp_path: Path
) -> None:
    from ui.articles import add_uploads, listing

    sent = tmp_path / "gradio"  # as Gradio stores uploads: a folder each, the user's name
    names = [f"n{i}.txt" for i in range(uploads.MAX_FILES - 2)] + ["seed.txt", "h.txt", "x.txt"]
    paths = []
    for i, name in enumerate(names):
        (sent / str(i)).mkdir(parents=True)
        paths.append(sent / str(i) / name)
        paths[-1].write_bytes(b"\x00binary" if name.startswith("n") else HARBOUR.encode())
    shutil.copy(SEEDS / "001_0a9e7fd5bd2f9d69.txt", paths[-3])
    rows = add_uploads(kb, paths, lambda done, what: None)
    assert rows[0] == ["n0.txt", "skipped", "binary file"]
    assert rows[-3] == ["seed.txt", "skipped", "duplicate: already in the index"]
    assert rows[-2][:2] == ["h.txt", "indexed"]
    assert rows[-1] == ["x.txt", "skipped", f"over the limit of {uploads.MAX_FILES} files at once"]
    kept = sorted(p.name for p in kb.uploads_dir.iterdir())
    assert len(kept) == 2 and kept[0].endswith(".json") and kept[1].endswith(".txt")  # h.txt's
    table, ids, _ = listing(kb)
    [row] = [r for r in table if r[0] == "Harbour festival draws record crowds"]
    assert row[2:] == ["date unknown", 1, "upload: h.txt"] and len(ids) == 6
