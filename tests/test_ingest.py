"""Ingest: files in, clean articles out (the rag.ingest package)."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingest.articles import article_id_for, derive_title, split_articles
from rag.ingest.files import Corpus, load_corpus
from rag.ingest.html import html_to_text
from rag.types import Article

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SKY = SEEDS / "000_2dd91a298db4a255.txt"
WEEK = SEEDS / "001_0a9e7fd5bd2f9d69.txt"

TITLES = [
    "America will not put up with it for much longer!’: Donald Trump hits out at Ukraine’s "
    "President Zelenskyy once again",
    "Long-range drone strikes weakening Russia’s combat ability, senior Ukrainian commander says",
    "Who’s in, who’s out? The ‘coalition of the willing’ that could secure peace in Ukraine",
    "Is the 'coalition of the willing' going to work?",
]

# Substrings of page furniture that must not survive in any article text.
FURNITURE = [
    "Connect with us",
    "Continue Reading",
    "Trending",
    "Image:",
    "Please use Chrome browser",
    "Read more:",
    "Live updates:",
    "Follow latest:",
    "More on Donald Trump",
    # picture alt text and captions around "Image:"
    "British troops prepare to depart upon the end of operations",
    "British troops departed upon the end of operations in Helmand",
    "Some Afghans were so desperate to escape",
    "Ukraine’s drone technology is considered to be world-leading",
    "Map of military personnel by country",
    "Incoming German Chancellor Friedrich Merz",
    # map captions
    "Map shows Taliban gains",
    "Taliban gains in Afghanistan 15 August",
    "forcing thousands to flee into neighbouring Iran and Pakistan",
    # video titles after the player notice
    "The Ukraine summit: How the day unfolded",
    "Sky News meets Zelenskyy: The key moments",
    "Pro-Ukrainian protesters gather in London",
    "Ukraine ramps up attacks on oil depots",
    # "Read more:" link lists
    "I found Zelenskyy defiant after disastrous confrontation",
    "Which countries could send peacekeeping troops to Ukraine?",
    "In the room with Volodymyr Zelenskyy",
    "Trump and Zelenskyy’s body language analysed",
    "Inside a Ukrainian titanium mine",
    # author byline block
    "Deborah Hayes",
    "Deborah Haynes",
    "Security and Defence Editor",
    "@haynesdeborah",
    # The Week's sign-up furniture, bio and related headlines
    "Subscribe to The Week",
    "Escape your echo chamber",
    "Sign up for The Week's Free Newsletters",
    "From our morning news briefing",
    "Sign up for Today's Best Articles in your inbox",
    "A free daily email",
    "Harriet Marsden is a writer for The Week",
    "Ukraine-Russia: is peace deal possible after Easter truce?",
    "Today's Big Question",
    "The state of Britain's Armed Forces",
    "Is Europe's defence too reliant on the US?",
]
# Furniture that is only furniture as a whole paragraph (the words occur in journalism).
FURNITURE_PARAGRAPHS = ["Published", "on", "By", "World", "-", "Former RAF pilot", "***"]
FURNITURE_PARAGRAPHS += ["A former commander of Task Force Helmand"]

JOURNALISM = {
    0: [
        "The Taliban’s triumphant march into Kabul seven days ago was the result of long-term "
        "planning and rank opportunism.",
        "On Saturday 14 August, the day before Kabul fell, 24 Afghan helicopters carrying almost "
        "600 servicemen flew in secret to Uzbekistan.",
        "By Sunday lunchtime it was all but over.",
        "President Biden’s criticism of Afghan forces for failing to stand up to the Taliban has "
        "been widely criticised. As a nation Afghans",
        "It turns out, they were right.",
    ],
    1: [
        "Donald Trump has hit out at the Ukrainian president once again",
        "“What are they thinking?” Mr Trump asked.",
        "“Zelenskyy needed to wake up and smell the coffee,” said Mr Farage.",
        "will continue working with the UK towards peace in Ukraine,” she said.",
    ],
    2: [
        "More than 3,000 Shahed unmanned aerial vehicles were destroyed",
        "The model is called “Lutti”, which is Ukrainian for “Fury”.",
        "Brigadier Shchygol said: “Right now, Ukraine’s battlefield experience is essentially a "
        "manual for the world.”",
    ],
    3: [
        "A “coalition of the willing” could provide boots on the ground in Ukraine in the event "
        "of a ceasefire.",
        "Polish Prime Minister Donald Tusk last month said:",
        "The use of the term “coalition of the willing” to describe the nations",
        "It’s unclear so far what Washington’s response will be",
    ],
    4: [
        "PM's proposal for UK/French-led peacekeeping force in Ukraine provokes 'hostility' in "
        "Moscow and 'derision' in Washington",
        "British military chiefs will head to Ukraine within days to advance plans for a "
        "peacekeeping force.",
        'Trump\'s special envoy Steve Witkoff called the coalition "a posture and a pose".',
        'which risks a direct confrontation between Russia and Nato."',
    ],
}


@pytest.fixture(scope="module")
def seeds() -> Corpus:
    return load_corpus([SEEDS])


@pytest.fixture()
def good_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SKY, folder / "a.txt")
    shutil.copy(WEEK, folder / "b.md")
    return folder


def test_seeds_give_five_articles_title_by_title(seeds: Corpus) -> None:
    titles = [a.title for a in seeds.articles]
    assert len(titles) == 5
    assert titles[1:] == TITLES
    assert titles[0].startswith("The Taliban’s triumphant march into Kabul")
    assert len(titles[0]) <= 81
    assert [a.title_derived for a in seeds.articles] == [True, False, False, False, False]
    assert (seeds.files, seeds.skipped, seeds.duplicates) == (2, [], 0)


def test_sources_and_publishers(seeds: Corpus) -> None:
    assert [a.source for a in seeds.articles] == [str(SKY)] * 4 + [str(WEEK)]
    assert [a.publisher for a in seeds.articles] == ["Sky News"] * 4 + ["The Week"]


@pytest.mark.parametrize("n", range(5))
def test_no_furniture_in_article(seeds: Corpus, n: int) -> None:
    article = seeds.articles[n]
    for furniture in FURNITURE:
        assert furniture not in article.text, furniture
    paragraphs = article.text.split("\n\n")
    for furniture in FURNITURE_PARAGRAPHS:
        assert furniture not in paragraphs, furniture
    assert article.title not in paragraphs  # the header repeats the title; it is not body


@pytest.mark.parametrize("n", range(5))
def test_journalism_kept(seeds: Corpus, n: int) -> None:
    for sentence in JOURNALISM[n]:
        assert sentence in seeds.articles[n].text, sentence


@pytest.mark.parametrize("n", range(5))
def test_text_is_tidy_paragraphs(seeds: Corpus, n: int) -> None:
    text = seeds.articles[n].text
    paragraphs = text.split("\n\n")
    assert len(paragraphs) >= 14
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs)
    assert "  " not in text
    assert seeds.articles[n].article_id == article_id_for(text)


def test_pull_quotes_dropped_but_original_kept(seeds: Corpus) -> None:
    text = seeds.articles[0].text
    assert text.count("For years they had gone into the fight with ground knowledge") == 1
    assert text.count("most NATO forces wouldn’t fight without this backup") == 1
    assert "The Afghan soldiers have the capacity for great courage" not in text
    assert "They have the capacity for great courage and resilience" in text


def test_article_id_is_sha256_prefix() -> None:
    assert article_id_for("abc") == hashlib.sha256(b"abc").hexdigest()[:16]
    assert article_id_for("abc") != article_id_for("abd")


def test_derived_title_cuts_on_word_boundary() -> None:
    long = "Officials said on Tuesday that the new bridge over the river would open next spring."
    title = derive_title(long + " More follows.")
    assert title.endswith("…") and len(title) <= 81
    assert long.startswith(title[:-1])
    assert derive_title("Short first sentence. Second.") == "Short first sentence"


def test_plain_text_without_title_line_derives_title() -> None:
    [article] = split_articles("Rain fell all day in Leeds. Rivers rose.\n\nRoads shut.", "r.txt")
    assert article.title_derived and article.title == "Rain fell all day in Leeds"
    assert article.text == "Rain fell all day in Leeds. Rivers rose.\n\nRoads shut."


def test_hard_wrapped_lines_are_joined() -> None:
    text = (
        "Storm hits coast\n\nA powerful storm hit the southern coast on Monday, cutting power\n"
        "to thousands of homes and closing roads across the region, the\nauthorities said.\n\n"
        "Repairs will take a week."
    )
    [article] = split_articles(text, "w.txt")
    assert article.title == "Storm hits coast" and not article.title_derived
    assert article.text.split("\n\n")[0].endswith(
        "closing roads across the region, the authorities said."
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("latin1.txt", "Caf\xe9 au lait and more text.".encode("latin-1"), "not UTF-8 text"),
        ("binary.txt", b"Some text\x00\x01\x02 more", "binary file"),
        ("empty.md", b"  \n\n\t \n", "empty file"),
        ("furniture.txt", b"Connect with us\n\nTrending\n", "no article text found"),
    ],
)
def test_bad_file_is_skipped_with_warning(
    good_dir: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes, reason: str
) -> None:
    bad = good_dir / name
    bad.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="rag"):
        corpus = load_corpus([good_dir])
    assert [(s.path, s.reason) for s in corpus.skipped] == [(str(bad), reason)]
    assert any(str(bad) in r.getMessage() and r.name == "rag" for r in caplog.records)
    assert corpus.files == 2 and len(corpus.articles) == 5


def test_other_suffixes_ignored_silently(good_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    (good_dir / "photo.jpg").write_bytes(b"\xff\xd8\x00binary")
    (good_dir / "notes.csv").write_text("a,b\n")
    with caplog.at_level(logging.WARNING, logger="rag"):
        corpus = load_corpus([good_dir])
    assert corpus.skipped == [] and corpus.files == 2 and not caplog.records


def test_same_article_in_two_files_kept_once(good_dir: Path) -> None:
    shutil.copy(WEEK, good_dir / "c_copy.txt")
    corpus = load_corpus([good_dir])
    assert len(corpus.articles) == 5 and corpus.duplicates == 1 and corpus.files == 3
    assert [a.source for a in corpus.articles].count(str(good_dir / "b.md")) == 1


def test_missing_path_raises_input_error(good_dir: Path) -> None:
    missing = good_dir / "nope"
    with pytest.raises(InputError, match="nope"):
        load_corpus([good_dir, missing])


def test_folders_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    shutil.copy(WEEK, tmp_path / "b" / "deep" / "week.txt")
    shutil.copy(SKY, tmp_path / "a" / "sky.txt")
    corpus = load_corpus([str(tmp_path)])
    assert [a.source for a in corpus.articles] == [str(tmp_path / "a" / "sky.txt")] * 4 + [
        str(tmp_path / "b" / "deep" / "week.txt")
    ]


def test_files_and_folders_mixed(tmp_path: Path) -> None:
    corpus = load_corpus([WEEK, SEEDS])  # the Week article again via the folder: kept once
    assert len(corpus.articles) == 5 and corpus.duplicates == 1
    assert corpus.articles[0].publisher == "The Week"


HTML = """<!doctype html><html><head><title>Rain due on Friday | Weather Desk</title>
<script>document.write("<p>Accept cookies</p>");</script><style>p { color: red }</style></head>
<body><nav><a href="/">Home</a> <a href="/world">World news menu</a></nav>
<header><h1>Rain due on Friday</h1></header>
<article>
  <p>Forecasters said heavy rain is due on Friday
     across the north of England.</p>
  <figure><img alt="Clouds"><figcaption>Clouds over Leeds. Pic: AP</figcaption></figure>
  <p>Flood warnings &amp; alerts were issued<br>for three towns.</p>
  <p>The Environment Agency said rivers could burst their banks.</p>
  <aside>Most read: cat stuck up tree</aside>
</article>
<footer>Copyright Weather Desk</footer></body></html>"""


def test_html_gives_article_text_and_title(tmp_path: Path) -> None:
    (tmp_path / "rain.html").write_text(HTML, encoding="utf-8")
    [article] = load_corpus([tmp_path]).articles
    assert isinstance(article, Article)
    assert article.title == "Rain due on Friday" and not article.title_derived
    assert article.text == (
        "Forecasters said heavy rain is due on Friday across the north of England.\n\n"
        "Flood warnings & alerts were issued for three towns.\n\n"
        "The Environment Agency said rivers could burst their banks."
    )


def test_html_title_tag_used_when_no_h1() -> None:
    text, hint = html_to_text("<title>Floods close roads | Site</title><p>Roads shut today.</p>")
    assert (text, hint) == ("Roads shut today.", "Floods close roads")


# --- article metadata (issue 12) ----------------------------------------------------------

NEWS_PAGE = Path(__file__).resolve().parent / "data" / "ceasefire.html"


def test_html_metadata_from_json_ld_and_meta_tags() -> None:
    [article] = load_corpus([NEWS_PAGE]).articles
    assert article.title == "Ceasefire talks resume in Geneva"
    assert (article.publisher, article.published, article.author) == (
        "Harbour Post",
        "2025-03-07",  # datePublished, not dateModified
        "Maria Okafor",
    )
    assert article.url == "https://harbourpost.example/world/2025/ceasefire-talks-resume"
    assert article.text.startswith("Negotiators from both sides") and "Sport" not in article.text


def test_html_without_a_date_says_none_not_today(tmp_path: Path) -> None:
    (tmp_path / "rain.html").write_text(HTML, encoding="utf-8")
    [article] = load_corpus([tmp_path]).articles
    assert (article.published, article.author, article.url) == (None, "", "")


def test_a_date_in_the_text_is_not_taken_for_the_pages(tmp_path: Path) -> None:
    body = "<p>The treaty signed on 4 May 2019 was renewed, officials said on Friday.</p>" * 4
    (tmp_path / "treaty.html").write_text(f"<title>Treaty</title><article>{body}</article>")
    [article] = load_corpus([tmp_path]).articles
    assert article.published is None


def test_plain_text_header_date_is_read_when_unambiguous() -> None:
    page = "Rain due\n\nPublished\n\non\n\n{}\n\nForecasters said rain is due. Bring a coat."
    [dated] = split_articles(page.format("7 March 2025"), "x.txt")
    [undated] = split_articles(page.format("03/07/2025"), "x.txt")
    assert (dated.published, undated.published) == ("2025-03-07", None)


def test_seed_pages_give_no_date() -> None:
    assert {a.published for a in load_corpus([SEEDS]).articles} == {None}
