"""The chat in a real browser: headless Chromium (Debian's package) driven by playwright.

Each app runs in this process (``launch(block=False)``) on a free loopback port with
the extractive backend over the seeds indexed with the hash embedder. Tests wait for
elements and text, never for network idle: Gradio keeps a connection open.
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import rag
from rag.answer.answerers import LLMAnswerer
from rag.llm.base import Message
from rag.llm.scripted import ScriptedLLM
from ui.chat import LOADING, STOPPED

from fake_openai_server import FakeOpenAIServer, Reply

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings(  # Gradio's queue uses a pandas option pandas 3 deprecates
        "ignore:'future.no_silent_downcasting'", "ignore:The copy keyword is deprecated"
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium; make test)",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
ENVOY = "What did Trump's special envoy call the coalition of the willing?"
OUT_OF_CORPUS = "Who won the 2018 World Cup?"
K = 10  # the hash embedder ranks the "posture and pose" passage 6th to 8th (MiniLM: 1st)
FOLLOW_UPS = ["What did Russia say about it?", "Will it work?", "Who leads it?",
              "And what did Meloni say about it?"]  # fmt: skip
TIMEOUT = 30_000  # ms
ASK_TRIES = 10  # Enter presses, a second apart, before a question counts as not taken
SECRET_KEY = "sk-browser-secret-77"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(kb: rag.KnowledgeBase, backend: str = "extractive") -> Iterator[str]:
    """The app over ``kb`` on a free loopback port, in this process; closed afterwards."""
    from ui.app import build_app, launch

    demo = build_app(kb, backend=backend)
    try:
        yield launch(demo, port=free_port(), block=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("browser-index")
    rag.build(SEEDS, directory, embedder="hash:128", progress=False)
    return directory


@pytest.fixture(scope="module")
def kb(index_dir: Path) -> rag.KnowledgeBase:
    return rag.load(index_dir)


@pytest.fixture(scope="module")
def app_url(kb: rag.KnowledgeBase) -> Iterator[str]:
    with serve(kb) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Chat:
    """One browser tab on the app, with the helpers a person would use."""

    def __init__(self, browser: Any, url: str, viewport: dict[str, int] | None = None) -> None:
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []  # an alert() from injected HTML would land here
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        expect(self.page.locator("#question textarea")).to_be_visible(timeout=TIMEOUT)

    def set_k(self, k: int) -> None:
        number = self.page.locator("#top-k input[type=number]")
        number.fill(str(k))
        number.press("Enter")
        expect(self.page.locator("#top-k input[type=range]")).to_have_value(str(k))

    def choose_backend(self, name: str) -> None:
        self.page.locator("#backend input").click()
        self.page.get_by_role("option", name=name, exact=True).click()
        expect(self.page.locator("#backend input")).to_have_value(name)

    def ask(self, question: str) -> None:
        """Ask as a user does: press Enter again while the question stays in the box.

        An Enter in the instant between an answer's last step and the end of its event is
        ignored (one answer at a time: ``trigger_mode="once"``) and the question stays in
        the box, as the app promises; a user presses again, and so does this. A second
        press while an answer runs asks nothing, so this never asks twice.
        """
        box = self.page.locator("#question textarea")
        box.fill(question)
        for _ in range(ASK_TRIES):
            box.press("Enter")
            try:
                expect(box).to_have_value("", timeout=1_000)  # taken: cleared at submit
                return
            except AssertionError:
                continue
        raise AssertionError(f"the chat did not take {question!r} in {ASK_TRIES} presses")

    def bot(self, i: int) -> Any:
        return self.page.locator("#chat [data-testid='bot']").nth(i)

    def user_questions(self) -> list[str]:
        users = self.page.locator("#chat [data-testid='user']")
        return [text.strip() for text in users.all_inner_texts()]

    def wait_final(self, i: int, text: str) -> None:
        """Wait until answer ``i`` holds ``text`` (the "…" placeholder is gone then)."""
        expect(self.bot(i)).to_contain_text(text, timeout=TIMEOUT)

    def wait_answer(self, i: int, text: str) -> None:
        """Wait until answer ``i``'s text (its first paragraph, before the sources) is ``text``."""
        expect(self.bot(i).locator("p").first).to_have_text(text, timeout=TIMEOUT)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def chat(browser: Any, app_url: str) -> Iterator[Chat]:
    tab = Chat(browser, app_url)
    yield tab
    tab.close()


def follow_up_needing_history(kb: rag.KnowledgeBase, first: str, answer: str) -> tuple[str, str]:
    """A follow-up whose answer changes with the history, and that answer (from the API)."""
    past = [{"role": "user", "content": first}, {"role": "assistant", "content": answer}]
    for question in FOLLOW_UPS:
        with_history = kb.ask(question, history=past, backend="extractive", k=K).text
        if with_history != kb.ask(question, backend="extractive", k=K).text:
            return question, with_history
    raise AssertionError(f"none of {FOLLOW_UPS} depends on the history in this index")


def test_ask_follow_up_and_abstain(chat: Chat, kb: rag.KnowledgeBase) -> None:
    chat.set_k(K)
    chat.ask(ENVOY)
    chat.wait_final(0, "[1]")
    sources = chat.bot(0).locator(".rag-sources")
    expect(sources).to_contain_text("a posture and a pose", timeout=TIMEOUT)
    expect(sources.locator("mark").first).to_contain_text("a posture and a pose")
    expect(sources).to_contain_text("[1]")
    expect(sources).to_contain_text("seeds/001_0a9e7fd5bd2f9d69.txt")
    expect(sources).to_contain_text("date unknown")  # the index has no dates yet
    expect(chat.bot(0).locator(".rag-searched summary")).to_have_text(
        re.compile(r"Other passages searched \(\d+\)")
    )
    link = chat.bot(0).locator("a.rag-cite").first
    expect(link).to_have_attribute("title", re.compile("a posture and a pose"))
    link.click()
    card = chat.bot(0).locator("#rag-a0-1")
    expect(card).to_have_class(re.compile("rag-flash"))
    expect(card).to_be_in_viewport()
    expect(card).to_be_focused()

    first = kb.ask(ENVOY, backend="extractive", k=K).text
    follow_up, expected = follow_up_needing_history(kb, ENVOY, first)
    chat.ask(follow_up)
    chat.wait_answer(1, expected)

    chat.ask(OUT_OF_CORPUS)
    chat.wait_final(2, "The articles don't say.")
    assert chat.bot(2).locator(".rag-sources").count() == 0  # nothing cited, but searched:
    expect(chat.bot(2).locator(".rag-searched summary")).to_have_text(f"Passages searched ({K})")
    assert chat.user_questions() == [ENVOY, follow_up, OUT_OF_CORPUS]
    assert chat.page.get_by_role("button", name=re.compile("flag", re.I)).count() == 0
    assert chat.screenshot("chat.png").stat().st_size > 10_000
    assert chat.dialogs == []


def test_examples_come_from_the_index(chat: Chat, kb: rag.KnowledgeBase) -> None:
    from ui.examples import example_questions

    examples = example_questions(kb)
    assert examples
    chat.page.get_by_role("button", name=examples[0], exact=True).click()  # asked at once
    chat.wait_final(0, "[1]")
    assert chat.user_questions() == [examples[0]]
    expect(chat.bot(0).locator(".rag-sources")).to_be_visible()


@pytest.fixture
def dead_openai(monkeypatch: pytest.MonkeyPatch, index_dir: Path) -> Iterator[tuple[str, int]]:
    """An app whose openai backend points at a port nobody listens on."""
    port = free_port()  # bound and released: nothing listens there now
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("RAG_OPENAI_RETRIES", "0")
    with serve(rag.load(index_dir)) as url:  # a private kb: its openai answerer reads this env
        yield url, port


def test_backend_down_shows_a_friendly_error_then_chat_works(
    browser: Any, dead_openai: tuple[str, int], openai_server: FakeOpenAIServer
) -> None:
    url, port = dead_openai
    tab = Chat(browser, url)
    try:
        tab.set_k(K)
        tab.choose_backend("openai")
        tab.ask(ENVOY)
        tab.wait_final(0, "The chat still works")
        expect(tab.bot(0)).to_contain_text(f"127.0.0.1:{port}")
        expect(tab.bot(0)).not_to_contain_text("Traceback")
        tab.screenshot("backend-down.png")
        # This tab's own server, from the panel: the loopback fake answers, cited.
        openai_server.script = Reply("The coalition was called a posture and a pose [1].")
        tab.page.get_by_role("button", name=re.compile("^OpenAI-compatible server")).click()
        tab.page.locator("#openai-url input").fill(openai_server.base_url)
        tab.page.locator("#openai-model input").fill("toy")
        tab.page.locator("#openai-key input").fill(SECRET_KEY)
        tab.ask(ENVOY)
        tab.wait_final(1, "a posture and a pose [1]")
        expect(tab.bot(1).locator(".rag-sources")).to_be_visible()
        assert openai_server.requests[0].headers["authorization"] == f"Bearer {SECRET_KEY}"
        assert SECRET_KEY not in tab.page.locator("#chat").inner_html()
        tab.choose_backend("extractive")
        tab.ask(ENVOY)
        tab.wait_final(2, "a posture and a pose")
    finally:
        tab.close()


def test_sessions_at_once_keep_their_own_history(
    browser: Any, app_url: str, kb: rag.KnowledgeBase
) -> None:
    firsts = [ENVOY, "How many long-range drones does Ukraine make?", "Who is Meloni?"]
    tabs = [Chat(browser, app_url) for _ in firsts]
    try:
        for tab in tabs:
            tab.set_k(K)
        for tab, question in zip(tabs, firsts, strict=True):
            tab.ask(question)  # all three are in flight before any is checked
        answers = [kb.ask(q, backend="extractive", k=K).text for q in firsts]
        for tab, answer in zip(tabs, answers, strict=True):
            tab.wait_answer(0, answer)
        for tab, question, answer in zip(tabs, firsts, answers, strict=True):
            past = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            tab.ask("What did Russia say about it?")
            expected = kb.ask("What did Russia say about it?", history=past,
                              backend="extractive", k=K).text  # fmt: skip
            tab.wait_answer(1, expected)
        for tab, question in zip(tabs, firsts, strict=True):
            assert tab.user_questions() == [question, "What did Russia say about it?"]
    finally:
        for tab in tabs:
            tab.close()


class SlowLLM(ScriptedLLM):
    """Writes a long answer a word every 50 ms; says when its stream was closed early."""

    name = "local"

    def __init__(self) -> None:
        super().__init__(" ".join(["The coalition was called a posture and a pose [1]."] * 60))
        self.words, self.closed = 0, threading.Event()

    def stream(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        try:
            for word in super().stream(messages, **options):
                time.sleep(0.05)
                self.words += 1
                yield word
        finally:
            self.closed.set()  # where a real model's lock is released


@pytest.fixture
def slow_app(index_dir: Path) -> Iterator[tuple[str, SlowLLM]]:
    kb, llm = rag.load(index_dir), SlowLLM()  # a private kb: its "local" is the slow one
    kb.use_answerer(LLMAnswerer(llm))
    with serve(kb, backend="local") as url:
        yield url, llm


def test_stop_frees_the_model_and_the_next_question_is_answered(
    browser: Any, slow_app: tuple[str, SlowLLM]
) -> None:
    url, llm = slow_app
    tab = Chat(browser, url)
    try:
        tab.set_k(K)
        box = tab.page.locator("#question textarea")
        box.fill(ENVOY)
        box.press("Enter")
        box.press("Enter")  # twice, quickly: one answer
        expect(box).to_have_value("")  # cleared once, at submit
        box.fill("my next question, half typed")
        box.press("Enter")  # while the answer runs, neither Enter nor Ask asks again
        tab.page.get_by_role("button", name="Ask", exact=True).click()
        expect(tab.bot(0)).to_contain_text(re.compile(r"Writing… [1-9] s"), timeout=TIMEOUT)
        assert tab.user_questions() == [ENVOY] and len(llm.calls) == 1
        tab.page.get_by_role("button", name="Stop").click()
        assert llm.closed.wait(timeout=10)  # the model's stream is closed: the model is free
        stopped_at = llm.words
        expect(tab.bot(0)).to_contain_text(STOPPED.strip("_()"))
        expect(tab.bot(0)).not_to_contain_text("Writing…")
        assert 0 < stopped_at < 600 and llm.words == stopped_at
        expect(box).to_have_value("my next question, half typed")  # streaming never touched it
        calls = len(llm.calls)
        # No Gradio status overlay over the chat (a cancelled answer could leave "Error"
        # there, covering Retry; ui/stop.py), then Retry regenerates the stopped answer.
        expect(tab.page.locator("#chat [data-testid='status-tracker'].full")).to_have_count(0)
        tab.page.get_by_role("button", name="Retry").click()
        expect(tab.bot(0)).to_contain_text(re.compile(r"Writing… [1-9] s"), timeout=TIMEOUT)
        assert len(llm.calls) == calls + 1 and tab.user_questions() == [ENVOY]
        tab.page.get_by_role("button", name="Stop").click()
        expect(tab.bot(0)).to_contain_text(STOPPED.strip("_()"))
        tab.choose_backend("extractive")
        tab.ask(ENVOY)
        tab.wait_final(1, "a posture and a pose")
        expect(tab.bot(1).locator(".rag-sources")).to_be_visible()
        # Regenerate a finished answer, now with the slow model; meanwhile an example
        # question (the same event as Enter, Ask and Retry) starts nothing.
        tab.choose_backend("local")
        calls = len(llm.calls)
        tab.page.get_by_role("button", name="Retry").click()
        expect(tab.bot(1)).to_contain_text(re.compile(r"Writing… [1-9] s"), timeout=TIMEOUT)
        tab.page.locator("#examples button").first.click()
        tab.page.wait_for_timeout(500)
        assert tab.user_questions() == [ENVOY, ENVOY] and len(llm.calls) == calls + 1
        tab.page.get_by_role("button", name="Stop").click()
        expect(tab.bot(1)).to_contain_text(STOPPED.strip("_()"))
        assert len(llm.calls) == calls + 1 and tab.user_questions() == [ENVOY, ENVOY]
    finally:
        tab.close()


HARBOUR_PAGE = """<html><head><title>Harbour festival draws record crowds</title>
<meta property="og:site_name" content="Bay Gazette">
<meta property="article:published_time" content="2025-03-07T09:00:00Z"></head>
<body><article><h1>Harbour festival draws record crowds</h1>
<p>The Harbour Festival opened on Saturday with a parade of forty boats. Organisers said the
festival drew twelve thousand visitors on its first day, a record for the town.</p>
<p>The festival runs for nine days and ends with fireworks over the bay. Local bakers sold more
than four thousand pies, the organisers said.</p></article></body></html>"""
HARBOUR_TITLE = "Harbour festival draws record crowds"
HARBOUR_QUESTION = "How many visitors did the Harbour Festival draw on its first day?"


@pytest.fixture
def upload_app(index_dir: Path, tmp_path: Path) -> Iterator[tuple[str, rag.KnowledgeBase]]:
    """The app over a private copy of the module's index: uploads and removals change it."""
    shutil.copytree(index_dir, tmp_path / "index")
    kb = rag.load(tmp_path / "index")
    with serve(kb) as url:
        yield url, kb


def test_upload_two_files_ask_the_new_article_then_remove_it(
    browser: Any, upload_app: tuple[str, rag.KnowledgeBase], tmp_path: Path
) -> None:
    url, kb = upload_app
    (tmp_path / "harbour.html").write_text(HARBOUR_PAGE, encoding="utf-8")
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary")
    tab = Chat(browser, url)
    page = tab.page
    try:
        tab.set_k(K)
        page.get_by_role("button", name=re.compile("^Articles")).click()
        files = page.locator("#upload-files")
        files.locator("input[type=file]").set_input_files(
            [tmp_path / "harbour.html", tmp_path / "photo.txt"]
        )
        sent = files.get_by_role("cell", name="photo.txt")  # both sent to the server
        expect(sent).to_be_visible(timeout=TIMEOUT)
        page.locator("#add-files").click()
        results = page.locator("#upload-results")
        expect(results).to_contain_text("indexed", timeout=TIMEOUT)
        rows = [" | ".join(r) for r in table_rows(results)]
        assert rows == [f"harbour.html | indexed | 1 article, 1 passage: {HARBOUR_TITLE}",
                        "photo.txt | skipped | binary file"]  # fmt: skip
        expect(page.locator("#articles-status")).to_have_text("Indexed 1 of 2 files.")
        listed = page.locator("#article-list")
        expect(listed).to_contain_text(HARBOUR_TITLE)
        expect(listed).to_contain_text("upload: harbour.html")
        expect(page.locator("#examples")).to_contain_text("harbour festival")  # from its title
        expect(page.locator("#index-info")).to_contain_text("Index: 6 articles")
        tab.screenshot("upload-results.png")

        tab.ask(HARBOUR_QUESTION)  # answerable at once, cited, the page's date on its card
        tab.wait_final(0, "twelve thousand visitors")
        card = tab.bot(0).locator(".rag-sources .rag-source").first
        expect(card).to_contain_text(HARBOUR_TITLE)
        expect(card).to_contain_text("Bay Gazette · 2025-03-07")
        tab.screenshot("upload-answered.png")

        listed.get_by_text(HARBOUR_TITLE, exact=True).click()  # choose it in the list
        expect(page.locator("#remove-choice input")).to_have_value(re.compile(f"^{HARBOUR_TITLE}"))
        page.locator("#remove-article").click()
        expect(page.locator("#remove-question")).to_contain_text(f"Remove “{HARBOUR_TITLE}”")
        page.locator("#remove-yes").click()
        expect(page.locator("#articles-status")).to_have_text(f"Removed “{HARBOUR_TITLE}”.")
        expect(listed).not_to_contain_text(HARBOUR_TITLE)
        assert HARBOUR_TITLE not in [a["title"] for a in kb.articles()]
        expect(page.locator("#examples")).not_to_contain_text("harbour festival")
        expect(page.locator("#index-info")).to_contain_text("Index: 5 articles")
        tab.ask(HARBOUR_QUESTION)
        expect(tab.bot(1).locator("p").first).not_to_contain_text("Writing", timeout=TIMEOUT)
        tab.wait_final(1, "searched")  # answered (or refused) from the other articles
        expect(tab.bot(1)).not_to_contain_text("twelve thousand visitors")
        expect(tab.bot(1)).not_to_contain_text(HARBOUR_TITLE)
        tab.screenshot("upload-removed.png")
        assert tab.dialogs == []
    finally:
        tab.close()


def table_rows(table: Any) -> list[list[str]]:
    """The body cells of a Gradio Dataframe, row by row."""
    cells = [
        row.get_by_role("gridcell").all_inner_texts() for row in table.get_by_role("row").all()
    ]
    return [[c.strip() for c in row] for row in cells if row]  # the header row has no gridcell


@pytest.mark.parametrize("name", ["desktop", "phone"])
def test_accessibility_light_and_dark(browser: Any, app_url: str, name: str) -> None:
    """axe finds no serious or critical problem, with an answer and all its sources open."""
    from axe_playwright_python.sync_playwright import Axe

    tab = Chat(browser, app_url, DESKTOP if name == "desktop" else PHONE)
    try:
        expect(tab.page.locator("#ask")).to_be_in_viewport()  # Ask: visible on first load
        viewport = DESKTOP if name == "desktop" else PHONE
        chat_box = tab.page.locator("#chat").bounding_box()  # follows the screen's height
        assert chat_box and abs(chat_box["height"] - max(280, viewport["height"] - 330)) < 2
        tab.set_k(K)
        tab.ask(ENVOY)
        tab.wait_final(0, "[1]")
        assert tab.page.get_by_role("button", name="Copy message").count() == 2  # one per message
        sources = tab.bot(0).locator("details.rag-sources")
        expect(sources).to_have_js_property("open", name == "desktop")  # folded on phones
        tab.page.locator("#chat details").evaluate_all("all => all.forEach(d => d.open = true)")
        tab.page.get_by_role("button", name=re.compile("^Articles")).click()  # its tables too
        expect(tab.page.locator("#article-list")).to_be_visible()
        for scheme in ("light", "dark"):
            tab.page.emulate_media(color_scheme=scheme)
            tab.page.wait_for_timeout(500)  # the theme's colour transitions end
            results = Axe().run(tab.page)
            bad = [
                v for v in results.response["violations"] if v["impact"] in ("serious", "critical")
            ]
            assert not bad, results.generate_report()
            tab.screenshot(f"a11y-{name}-{scheme}.png")
    finally:
        tab.close()


EVIL = """Harbour <script>alert("title")</script> festival opens
The Harbour Festival opened on Saturday with a parade of boats. Organisers said the festival \
<img src=x onerror=alert(1)> drew twelve thousand visitors on its first day. A banner read \
<script>alert(document.cookie)</script> near the pier, and the mayor called it ${alert(2)} a \
{{constructor}} "[click](javascript:alert(3))" success.
The festival runs for nine days and ends with fireworks over the bay. Local bakers sold more \
than four thousand pies, the organisers said.
"""


@pytest.fixture(scope="module")
def evil_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    corpus = tmp_path_factory.mktemp("evil-corpus")
    (corpus / "evil.txt").write_text(EVIL, encoding="utf-8")
    index = tmp_path_factory.mktemp("evil-index")
    with serve(rag.build(corpus, index, embedder="hash:64", progress=False)) as url:
        yield url


def test_article_html_shows_as_text(browser: Any, evil_url: str) -> None:
    tab = Chat(browser, evil_url)
    try:
        tab.ask("How many visitors did the Harbour Festival draw on its first day?")
        tab.wait_final(0, "<img src=x onerror=alert(1)> drew twelve thousand visitors")
        tab.ask("What did the banner near the pier read?")
        tab.wait_final(1, "<script>alert(document.cookie)</script> near the pier")
        sources = tab.bot(1).locator(".rag-sources")
        expect(sources).to_contain_text('Harbour <script>alert("title")</script> festival opens')
        expect(sources).to_contain_text('${alert(2)} a {{constructor}} "[click](javascript:')
        chat_area = tab.page.locator("#chat")
        assert chat_area.locator("img[src='x'], script, a[href^='javascript']").count() == 0
        tab.page.wait_for_timeout(500)  # give a smuggled onerror handler the time to fire
        assert tab.dialogs == []
        tab.screenshot("escaped-html.png")
    finally:
        tab.close()


@pytest.mark.slow
def test_real_minilm_index_answers_in_the_browser(
    browser: Any, minilm_kb: rag.KnowledgeBase
) -> None:
    with serve(minilm_kb) as url:
        tab = Chat(browser, url)
        try:
            tab.ask(ENVOY)  # top-k stays at its default, 5: MiniLM ranks the passage first
            tab.wait_final(0, "a posture and a pose")
            expect(tab.bot(0).locator(".rag-sources mark").first).to_contain_text("a posture")
        finally:
            tab.close()


@pytest.mark.slow
def test_local_model_shows_a_loading_note_then_answers(
    browser: Any, minilm_kb: rag.KnowledgeBase
) -> None:
    fresh = rag.load(minilm_kb.index_dir)  # its own LocalLLM, not loaded yet
    with serve(fresh, backend="local") as url:
        tab = Chat(browser, url)
        try:
            tab.ask(ENVOY)
            expect(tab.bot(0)).to_contain_text(LOADING, timeout=TIMEOUT)
            answer = tab.bot(0)
            abstained = answer.get_by_text("The articles don't say.")
            final = answer.locator(".rag-sources").or_(abstained)
            expect(final).to_be_visible(timeout=300_000)  # a 1.5B model on a CPU: a while
            expect(answer).not_to_contain_text("⚠️")
            tab.screenshot("local-model.png")
        finally:
            tab.close()


# Issue 10's chat sequence, asked as a new user would, with the default local backend.
ISSUE_QUESTIONS = [
    ("Which countries are in the coalition of the willing?", ["UK", "France", "Canada"]),
    ("And which are out?", ["Poland", "Spain", "Germany"]),
    ("How far can Ukraine's drones reach?", ["hundreds of miles"]),
    ("Summarise the Afghanistan article", ["Taliban", "Kabul"]),
    ("What did Trump's special envoy call the coalition?", ["a posture and a pose"]),
]


@pytest.mark.slow
def test_the_issue_questions_are_answered_in_the_chat_by_the_local_model(
    browser: Any, minilm_kb: rag.KnowledgeBase
) -> None:
    with serve(minilm_kb, backend="local") as url:
        tab = Chat(browser, url)
        try:
            texts = []
            for i, (question, _) in enumerate(ISSUE_QUESTIONS):
                tab.ask(question)
                answer = tab.bot(i)
                done = answer.locator(".rag-sources").or_(answer.get_by_text("don't say"))
                expect(done.first).to_be_visible(timeout=180_000)
                texts.append(answer.inner_text())
            tab.screenshot("issue-questions-local.png")
        finally:
            tab.close()
    missing = {
        question: [word for word in words if word not in text]
        for (question, words), text in zip(ISSUE_QUESTIONS, texts, strict=True)
    }
    for (question, words), text in zip(missing.items(), texts, strict=True):
        if question != "And which are out?":
            assert not words and "don't say" not in text, (question, text)
    if missing["And which are out?"]:
        # Follow-up retrieval (rag.answer.followup) now puts the "Who's out?" passage
        # ("Poland, Spain and Germany are not expected to send troops") in the top 5, but
        # the model's P("Yes") for the bare "And which are out?" stays near or under the
        # 0.40 bar, so it is refused; the rest of the sequence must be right. README,
        # "Answering".
        pytest.xfail(f"'And which are out?' still misses {missing['And which are out?']}")
