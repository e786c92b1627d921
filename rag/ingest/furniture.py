"""Page furniture: the labels, promos, captions and bylines a news page wraps around its journalism.

Every rule that says "this line is not journalism" lives here, as a row of a table or one small
function, so supporting a new site means adding a pattern, not a branch.

>>> drop_furniture(["Connect with us", "Kabul fell.", "Read more: Live blog", "It was over."])
['Kabul fell.', 'It was over.']
"""

from __future__ import annotations

import re

_CLOSERS = "\"'”’"

# Whole paragraphs that are furniture wherever they appear: (why, pattern).
# fmt: off
_RULES: tuple[tuple[str, str], ...] = (
    ("page label",       r"(?i)^(connect with us|continue reading|trending|published|on|by"
                         r"|advertisement|share|share this article|skip to content|most read)$"),
    ("section label",    r"^(World|UK|US|Politics|Business|Money|Sport|Science & Tech|Tech"
                         r"|Climate|Health|Entertainment|Opinion|News)$"),
    ("byline",           r"^By [A-Z][\w.'’-]*(?: (?:[A-Z][\w.'’-]*|and|de|van))*$"),
    ("date line",        r"(?i)^(\w+day,? )?(\d{1,2} \w+|\w+ \d{1,2},?) \d{4}"
                         r"(,? \d{1,2}[:.]\d{2}(am|pm)?.*)?$"),
    ("link teaser",      r"^(Read more|Live updates|Follow latest|Related|Also read|Watch|Listen"
                         r"|Latest): \S.{0,160}$"),
    ("topic link",       r"^More (on|from) [A-Z][^.!?]{0,40}$"),
    ("sign-up promo",    r"(?i)^(subscribe to|sign up (for|to)|escape your echo chamber"
                         r"|get the facts behind|from our morning news briefing"
                         r"|a free (daily|weekly) (email|newsletter))\b"),
    ("newsletter promo", r"(?i)^(?=.{0,240}$)(?=.*\bnewsletters?\b)"
                         r".*\b(sign up|subscribe|inbox|free)\b"),
    ("separator",        r"^[*_=~•·–—-]{3,}$|^(\* ?){3,}$"),
    ("author bio",       r"^[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){1,3} is an? (?:[\w-]+ ){0,3}"
                         r"(writer|reporter|journalist|editor|correspondent|columnist|contributor)\b"),
)
# fmt: on
FURNITURE = tuple((why, re.compile(pattern)) for why, pattern in _RULES)

# A video player notice; the paragraph after it is the video's title.
VIDEO_NOTICE = re.compile(r"(?i)^please use \S+ browser for a more accessible video player$")
# A bare bullet that opens a related-headline item: headline and teaser follow it.
LIST_MARKER = re.compile(r"^[-–•*]$")
# Inside one block (lines joined by single breaks): alt text / label / caption, or a map key.
FIGURE_LABEL = re.compile(
    r"^(?:(?:Image|Picture|Photo|Video|Graphic)s?:|Map (?:shows|of) .{0,100})$"
)
# A bare "Read more:" heading; the headline lines under it in the same block are links.
LINK_LIST_HEAD = re.compile(r"(?i)^(read more|related|related articles|more stories|also read):$")
HANDLE = re.compile(r"^@\w{2,30}$")
_ROLE_WORDS = {"Editor", "Correspondent", "Reporter", "Presenter", "Analyst", "Producer"}
_NAME_LINKS = {"and", "of", "for", "the", "de", "van", "von"}


def furniture_reason(paragraph: str) -> str:
    """Why ``paragraph`` is furniture, or "" when it may be journalism."""
    for reason, pattern in FURNITURE:
        if pattern.match(paragraph):
            return reason
    return ""


def drop_block_furniture(lines: list[str]) -> list[str]:
    """Drop figure captions and link lists, which only show as lines of one block."""
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if FIGURE_LABEL.match(line):
            drop |= {i - 1, i, i + 1}  # alt text, label, caption
        elif LINK_LIST_HEAD.match(line):
            drop.add(i)
            j = i + 1
            while j < len(lines) and is_headline(lines[j]):
                drop.add(j)
                j += 1
    return [line for i, line in enumerate(lines) if i not in drop]


def drop_furniture(paras: list[str]) -> list[str]:
    """Drop furniture paragraphs, with the video title or related headline they announce."""
    kept: list[str] = []
    i = 0
    while i < len(paras):
        para = paras[i]
        if VIDEO_NOTICE.match(para):
            i += 1 + _short_run(paras, i + 1, limit=1, max_words=25)
        elif LIST_MARKER.match(para):
            i += 1 + _short_run(paras, i + 1, limit=2, max_words=40)
        else:
            if not furniture_reason(para):
                kept.append(para)
            i += 1
    return kept


def drop_bylines(paras: list[str]) -> list[str]:
    """Drop author blocks: a @handle or job title, with the name lines next to it."""
    anchors = {i for i, p in enumerate(paras) if HANDLE.match(p) or _is_role(p)}
    drop = set(anchors)
    for i in anchors:
        j = i - 1
        while j >= 0 and (j in anchors or _is_name(paras[j])):
            drop.add(j)
            j -= 1
        j = i + 1
        while j < len(paras) and HANDLE.match(paras[j]):
            drop.add(j)
            j += 1
    return [p for i, p in enumerate(paras) if i not in drop]


def drop_pull_quotes(paras: list[str], overlap: float = 0.6) -> list[str]:
    """Drop paragraphs that repeat earlier body text (pull quotes) and their attribution line.

    A paragraph is a repeat when most of its 5-word runs already appeared above it.
    """
    kept: list[str] = []
    seen: set[tuple[str, ...]] = set()
    after_quote = False
    for para in paras:
        grams = _shingles(para)
        if len(grams) >= 4 and len(grams & seen) >= overlap * len(grams):
            after_quote = True
            continue
        if after_quote and _is_attribution(para):
            after_quote = False
            continue
        after_quote = False
        kept.append(para)
        seen |= grams
    return kept


def is_headline(line: str) -> bool:
    """Short and not ending like a sentence: a link, video title or heading."""
    return len(line.split()) <= 20 and not line.rstrip(_CLOSERS).endswith(".")


def _short_run(paras: list[str], start: int, limit: int, max_words: int) -> int:
    """How many of up to ``limit`` paragraphs from ``start`` are short, non-marker lines."""
    n = 0
    while n < limit and start + n < len(paras):
        para = paras[start + n]
        if LIST_MARKER.match(para) or len(para.split()) > max_words:
            break
        n += 1
    return n


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _is_attribution(para: str) -> bool:
    words = para.split()
    return 0 < len(words) <= 8 and para[0].isupper() and not para.endswith(tuple('.!?:;,"”'))


def _is_name(para: str) -> bool:
    """A short run of capitalised words: "Deborah Haynes"."""
    return 1 < len(para.split()) <= 4 and _capitalised(para)


def _is_role(para: str) -> bool:
    """A job title: "Security and Defence Editor"."""
    words = para.split()
    return 0 < len(words) <= 6 and words[-1] in _ROLE_WORDS and _capitalised(para)


def _capitalised(para: str) -> bool:
    words = para.split()
    plain = re.fullmatch(r"[\w .'’-]+", para) is not None
    return plain and all(w[0].isupper() or w in _NAME_LINKS for w in words)
