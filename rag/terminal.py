"""What the ``rag`` command shows on a terminal: text made safe, progress that clears itself."""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO


def printable(text: str, keep: str = "\n\t") -> str:
    r"""``text`` safe for a terminal: control characters but ``keep`` shown as escapes.

    Passages and answers come from files and models; an escape sequence among them
    could clear the screen or retitle the terminal. (Ingest strips them too; an index
    made before that, or a model's answer, may still hold some.)

    >>> print(printable("a\x1b]0;title\x07b\nc"))
    a\x1b]0;title\x07b
    c
    """
    return "".join(
        ch if ch in keep or unicodedata.category(ch) != "Cc" else repr(ch)[1:-1] for ch in text
    )


class Status:
    r"""One line of progress on stderr ("searching the articles…"), replaced by the next
    and cleared before the answer or an error is printed.

    Only on a terminal: a pipe, a log file or a test's captured stderr gets nothing, so
    scripts see the answer and one-line errors only.

    >>> import io
    >>> class Terminal(io.StringIO):
    ...     def isatty(self) -> bool:
    ...         return True
    >>> out = Terminal()
    >>> status = Status(out)
    >>> status.show("searching…"); status.clear(); status.clear()
    >>> out.getvalue()
    '\rsearching…\x1b[K\r\x1b[K'
    >>> piped = io.StringIO()
    >>> Status(piped).show("searching…"); piped.getvalue()
    ''
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.on = self.stream.isatty()
        self.shown = False

    def show(self, text: str) -> None:
        if self.on:
            self.stream.write(f"\r{text}\x1b[K")  # back to the line's start, erase the rest
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
