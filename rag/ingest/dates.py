"""Dates written out in a plain-text page's header, read only when unambiguous.

"7 March 2025", "March 7, 2025" and "2025-03-07" are read; "03/07/2025" (March or July?)
and a date without a year are not: the article's date is then unknown, not guessed.

>>> parse_date("Published on March 7, 2025 at 9:00 am")
'2025-03-07'
>>> parse_date("Fri 7 Mar 2025"), parse_date("03/07/2025"), parse_date("7 March")
('2025-03-07', None, None)
"""

from __future__ import annotations

import datetime as dt
import re

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = (
    re.compile(rf"\b{_YEAR}-(?P<mnum>\d\d)-(?P<day>\d\d)\b"),
    re.compile(rf"\b{_DAY} {_MONTH},? {_YEAR}\b"),
    re.compile(rf"\b{_MONTH} {_DAY},? {_YEAR}\b"),
)


def parse_date(text: str) -> str | None:
    """The first unambiguous date in ``text`` as an ISO date, or None."""
    for pattern in _PATTERNS:
        for found in pattern.finditer(text):
            iso = _iso(found)
            if iso:
                return iso
    return None


def check_iso_date(value: str) -> bool:
    """Is ``value`` an ISO date ("2025-03-07")?

    >>> check_iso_date("2025-03-07"), check_iso_date("2025-02-30"), check_iso_date("last week")
    (True, False, False)
    """
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return bool(re.fullmatch(r"\d{4}-\d\d-\d\d", value))


def _iso(found: re.Match[str]) -> str | None:
    parts = found.groupdict()
    month = int(parts["mnum"]) if parts.get("mnum") else _month(parts["month"])
    try:
        return dt.date(int(parts["year"]), month or 0, int(parts["day"])).isoformat()
    except ValueError:  # 30 February, or not a month
        return None


def _month(word: str) -> int | None:
    """ "Mar", "March" and "Sept" are months; "Marching" is not."""
    word = word.lower()
    for n, name in enumerate(_MONTH_NAMES, start=1):
        if name.startswith(word) or (word == "sept" and n == 9):
            return n
    return None
