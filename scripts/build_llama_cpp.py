"""Install llama-cpp-python built to run on any x86-64 CPU, never with AMX.

Why: pip's default build of llama-cpp-python compiles llama.cpp with
``-march=native``. That wheel only runs on CPUs like the one that built it, pip
caches it by source archive (so it is reused on other CPUs and a changed
``CMAKE_ARGS`` is silently ignored), and on CPUs that list AMX it turns on
llama.cpp's AMX code, which dies with "Illegal instruction" on machines whose
kernel or hypervisor does not really give the tile state.

What this does instead, as llama.cpp's own release builds do: one small
``libggml-cpu-<variant>.so`` per CPU generation (``GGML_BACKEND_DL`` +
``GGML_CPU_ALL_VARIANTS``) and the best one the running CPU supports is chosen at
load time (``rag.llm.runtime.load_backends``). The Sapphire Rapids variant, the
only one with AMX, is left out, as are variants that add little over a
neighbour, to keep the build short.

The wheel is cached under ``$RAG_CACHE_DIR/wheels`` (default
``~/.cache/rag-news/wheels``) in a folder named by a hash of the version, flags,
variant list and this script's patch revision: a portable wheel is safe to
reuse on any machine, and a wheel built with other flags is never picked up.
The installed package carries ``llama_cpp/rag_news_build.json`` with that key,
so a re-run installs nothing when the right build is already there and replaces
any other build (pip's native one included).

Usage (the Makefile runs it with the venv's Python; stdlib only)::

    $ .venv/bin/python scripts/build_llama_cpp.py          # install (build if needed)
    $ .venv/bin/python scripts/build_llama_cpp.py --check  # exit 1 if another build is installed
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"
# Oldest first. x64 keeps any x86-64 CPU working (slowly); haswell is the AVX2 baseline;
# skylakex/icelake/zen4 add AVX-512, VNNI and BF16; alderlake is AVX2 with AVX-VNNI.
# Never sapphirerapids: it is the AMX variant this build exists to avoid.
VARIANTS = ("x64", "haswell", "skylakex", "icelake", "zen4", "alderlake")
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=ON",
    "-DGGML_CPU_ALL_VARIANTS=ON",
    "-DLLAVA_BUILD=OFF",  # the multimodal library: unused here, and half the build time
)
PATCH_REVISION = 1  # bump when the patches below change
STAMP_NAME = "rag_news_build.json"


def build_key() -> str:
    """A short hash of everything that decides what the wheel contains."""
    text = json.dumps([VERSION, CMAKE_ARGS, VARIANTS, PATCH_REVISION])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_root() -> Path:
    # rag.llm.gguf.cache_dir's rule, repeated: this script runs before the package is installed.
    root = os.environ.get("RAG_CACHE_DIR", "").strip() or "~/.cache/rag-news"
    return Path(root).expanduser() / "wheels" / f"llama-cpp-python-{VERSION}-portable-{build_key()}"


def installed_key() -> str | None:
    """The build key of the installed llama_cpp, or None (absent, or not built by this script)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    stamp = Path(spec.origin).parent / STAMP_NAME
    try:
        return str(json.loads(stamp.read_text(encoding="utf-8"))["key"])
    except (OSError, ValueError, KeyError):
        return None


def patch_variants(cmake_file: Path) -> None:
    """Keep only VARIANTS among the x86 CPU variants in ggml/src/CMakeLists.txt."""
    text = cmake_file.read_text(encoding="utf-8")
    start = text.index("if (GGML_CPU_ALL_VARIANTS)")
    x86 = text.index('if (GGML_SYSTEM_ARCH STREQUAL "x86")', start)
    end = text.index("elseif(GGML_SYSTEM_ARCH STREQUAL", x86)
    block = text[x86:end]
    pattern = re.compile(r"^\s*ggml_add_cpu_backend_variant\((\S+?)[\s)].*\n", re.M)
    found = set(pattern.findall(block))
    missing = set(VARIANTS) - found
    if missing or "sapphirerapids" not in found:
        sys.exit(f"llama.cpp's x86 variant list changed (missing {sorted(missing)}): update me")
    kept = pattern.sub(lambda m: m.group(0) if m.group(1) in VARIANTS else "", block)
    cmake_file.write_text(text[:x86] + kept + text[end:], encoding="utf-8")


def patch_install(cmake_file: Path) -> None:
    """llama-cpp-python installs a fixed list of ggml targets: add the CPU variants to it."""
    text = cmake_file.read_text(encoding="utf-8")
    anchor = "llama_cpp_python_install_target(ggml-cpu)"
    if anchor not in text:
        sys.exit(f"{anchor} not found in {cmake_file}; update this script")
    extra = "".join(f"\n    llama_cpp_python_install_target(ggml-cpu-{v})" for v in VARIANTS)
    cmake_file.write_text(text.replace(anchor, anchor + extra, 1), encoding="utf-8")


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def build_wheel(dest: Path) -> Path:
    """Download the source, patch it, build the wheel and move it into ``dest``."""
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp_name:
        tmp = Path(tmp_name)
        pip = [sys.executable, "-m", "pip"]
        source = f"llama-cpp-python=={VERSION}"
        run(
            [
                *pip,
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp_name,
                source,
            ]
        )
        archive = next(tmp.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        src = tmp / archive.name.removesuffix(".tar.gz")
        patch_variants(src / "vendor/llama.cpp/ggml/src/CMakeLists.txt")
        patch_install(src / "CMakeLists.txt")
        stamp = {"key": build_key(), "cmake_args": CMAKE_ARGS, "variants": VARIANTS}
        (src / "llama_cpp" / STAMP_NAME).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        env = dict(os.environ, CMAKE_ARGS=" ".join(CMAKE_ARGS), CMAKE_BUILD_PARALLEL_LEVEL="2")
        print(f"building llama-cpp-python {VERSION} for CPU variants {', '.join(VARIANTS)}")
        print("(about 7 minutes on 2 cores, once: the wheel is cached)", flush=True)
        out = str(tmp / "out")
        run([*pip, "wheel", "--quiet", "--no-deps", "--no-cache-dir", "-w", out, str(src)], env=env)
        wheel = next((tmp / "out").glob("*.whl"))
        dest.mkdir(parents=True, exist_ok=True)
        # Copy then rename, so a killed build never leaves a half-written wheel in the cache.
        partial = dest / (wheel.name + ".partial")
        shutil.copyfile(wheel, partial)
        os.replace(partial, dest / wheel.name)
        return dest / wheel.name


def install() -> None:
    if installed_key() == build_key():
        print(f"llama-cpp-python {VERSION} portable build {build_key()} is installed")
        return
    cached = sorted(cache_root().glob("*.whl"))
    wheel = cached[0] if cached else build_wheel(cache_root())
    run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="only say whether the portable build is installed"
    )
    args = parser.parse_args()
    if args.check:
        ok = installed_key() == build_key()
        print(f"portable build {build_key()}: {'installed' if ok else 'NOT installed'}")
        sys.exit(0 if ok else 1)
    install()


if __name__ == "__main__":
    main()
