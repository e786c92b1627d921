"""Folders the user names (the index, the eval's report folder), checked before work starts.

A file where a folder should be, or a folder that cannot be written, is an
:class:`~rag.errors.InputError` naming the path, not an ``OSError`` halfway through.

>>> check_folder("/dev/null/sub", "index folder", write=False)
Traceback (most recent call last):
...
rag.errors.InputError: cannot use /dev/null/sub as the index folder: /dev/null is not a folder
"""

from __future__ import annotations

import os
from pathlib import Path

from rag.errors import InputError


def check_folder(path: str | Path, what: str, *, write: bool) -> Path:
    """``path`` is a folder, or can be made one; with ``write``, one this process can write in."""
    path = Path(path)
    if "\x00" in str(path):
        raise InputError(f"the {what} path {str(path)!r} holds a NUL character")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        where = "it" if existing == path else str(existing)
        raise InputError(f"cannot use {path} as the {what}: {where} is not a folder")
    if not write and existing != path:
        return path  # nothing there yet: the reader says there is no index
    # os.access: a writer would otherwise fail with PermissionError after the slow part.
    if not os.access(existing, os.R_OK | os.X_OK | (os.W_OK if write else 0)):
        raise InputError(f"cannot use {path} as the {what}: no permission to use {existing}")
    return path


def _nearest_existing(path: Path) -> Path:
    """``path`` if it exists, else its closest existing parent (``.`` at worst)."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):  # False, not an error, for a path under a file
            return candidate
    return Path(".")
