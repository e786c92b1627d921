"""Crash-safe file writes: write a temporary file, fsync it, rename it into place.

A reader (or a killed writer) sees either the old file or the new one, never half.

Tests kill a writer between two replacements: with ``RAG_KILL_AFTER_REPLACE=N`` in its
environment, a process sends itself SIGKILL right after its Nth :func:`publish`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
from collections.abc import Callable
from pathlib import Path

KILL_AFTER_REPLACE = "RAG_KILL_AFTER_REPLACE"
_replacements = itertools.count(1)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    """Where a file bound for ``path`` is written first (the writer's pid in its name)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def publish(tmp: Path, path: Path) -> None:
    """Move a finished ``tmp`` onto ``path`` once it is on disk."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    if os.environ.get(KILL_AFTER_REPLACE) == str(next(_replacements)):
        os.kill(os.getpid(), signal.SIGKILL)  # the crash-safety tests' kill point


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` then move ``tmp`` onto ``path`` once it is on disk."""
    tmp = temp_path(path)
    try:
        write(tmp)
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
