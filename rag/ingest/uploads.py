"""Files a user uploads (the chat's Articles panel): checked, then copied where the server
keeps them.

An upload's name is the user's: it is shown back, and never used as a path. A file that
passes the checks is copied to ``<index>/uploads/<sha256 of its bytes>.<suffix>``, with
its name beside it in ``<same>.json`` (for the article list), and indexed from there; the
same bytes uploaded twice land on the same file.

>>> display_name("../../etc/x.txt"), display_name("C:\\\\Users\\\\ann\\\\rain.md")
('x.txt', 'rain.md')
>>> size_problem(MAX_FILE_BYTES + 1)
'too large (5.1 MB; at most 5 MB a file)'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from rag.errors import InputError
from rag.ingest.files import PDF_SUFFIXES, SUFFIXES, read_text
from rag.ingest.pdf import read_pdf

MAX_FILE_MB = 5  # a long news article is tens of KB; a PDF of one, a few hundred
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024
MAX_FILES = 10  # per upload: each is embedded before the chat sees any of them
FOLDER = "uploads"  # under the index folder
ACCEPTED = ", ".join(sorted(SUFFIXES))
_NAME_CHARS = 120  # a name longer than this is shortened for display


@dataclass(frozen=True)
class Received:
    """One uploaded file: where the server keeps it, or why it was refused."""

    name: str  # as the user named it (its last part only): shown, never a path
    path: Path | None = None  # the server's copy; None when refused
    reason: str = ""  # why it was refused ("" when kept)


def display_name(name: str) -> str:
    """The last part of a name as a browser or client sent it, on one line."""
    last = PurePath(name.replace("\\", "/")).name
    flat = " ".join(last.split()) or "(unnamed)"
    return flat if len(flat) <= _NAME_CHARS else flat[: _NAME_CHARS - 1] + "…"


def size_problem(size: int) -> str:
    """Why a file of ``size`` bytes is refused, "" when its size is fine."""
    if size == 0:
        return "empty file"
    if size > MAX_FILE_BYTES:
        megabytes = math.ceil(size * 10 / 1024 / 1024) / 10  # rounded up: never "5.0 of 5"
        return f"too large ({megabytes:.1f} MB; at most {MAX_FILE_MB} MB a file)"
    return ""


def check(path: Path, name: str) -> str:
    """Why the uploaded file at ``path``, named ``name`` by the user, is refused; "" if not."""
    suffix = PurePath(display_name(name)).suffix.lower()
    if suffix not in SUFFIXES:
        return f"unsupported type {suffix or '(no extension)'}: use {ACCEPTED}"
    try:
        problem = size_problem(path.stat().st_size)
    except OSError as error:
        return f"unreadable ({error.strerror or error})"
    if problem:
        return problem
    if suffix in PDF_SUFFIXES:
        return read_pdf(path.read_bytes())[1]  # "" when pypdf finds text in it
    return read_text(path)[1]  # binary, not UTF-8 or blank: "" when it is text


def receive(path: Path, name: str, folder: Path) -> Received:
    """Check an uploaded file and copy it into ``folder`` under the hash of its bytes."""
    shown = display_name(name)
    reason = check(path, name)
    if reason:
        return Received(shown, reason=reason)
    data = path.read_bytes()
    suffix = PurePath(shown).suffix.lower()
    target = folder / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_new(target, data)
        _write_new(target.with_suffix(".json"), json.dumps({"name": shown}).encode())
    except OSError as error:
        raise InputError(f"cannot store uploads in {folder}: {error.strerror or error}") from error
    return Received(shown, target)


def names(folder: Path) -> dict[str, str]:
    """Absolute path of each kept upload -> the name it was uploaded under."""
    found = {}
    for meta in folder.glob("*.json") if folder.is_dir() else []:
        try:
            name = json.loads(meta.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            continue  # a damaged note: the article list shows the file instead
        for suffix in SUFFIXES:
            if isinstance(name, str) and meta.with_suffix(suffix).is_file():
                found[str(meta.with_suffix(suffix).resolve())] = name
    return found


def forget(path: Path, folder: Path) -> None:
    """Delete an upload's copy and its name, if ``path`` is one (files elsewhere stay)."""
    if path.resolve().parent != folder.resolve():
        return
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def _write_new(target: Path, data: bytes) -> None:
    """Write ``target`` whole (a temporary file renamed), unless it is already there."""
    if target.exists():
        return
    # Hidden (indexing skips dot files) and unique: two sessions may upload the same file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)
