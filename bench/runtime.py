"""Prompt and generation speed of the installed llama.cpp build on the bundled model.

    .venv/bin/python bench/runtime.py [--prompt-tokens 600] [--gen-tokens 64] [--repeats 3]
                                      [--variant haswell|skylakex|icelake|zen4|alderlake|x64]

Prints which CPU features the loaded ggml CPU code uses, then prompt-processing and
generation tokens/s (median of the repeats). Run it on an idle machine: anything
else on the two cores slows llama.cpp 3-10x. To compare builds, run the same
command from two virtual environments on the same machine (or with ``PYTHONPATH``
pointing at another build's ``llama_cpp``); ``--variant`` forces one CPU variant of the
portable build instead of the best one, to see what the choice is worth.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time

from rag.llm import runtime
from rag.llm.gguf import model_path


def load_variant(name: str) -> None:
    import llama_cpp  # noqa: F401  (loads libllama, and libggml with it)

    library = runtime.lib_dir() / f"libggml-cpu-{name}.so"
    ggml = ctypes.CDLL(str(runtime.linked_ggml(runtime.lib_dir())))
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    if not library.is_file() or not ggml.ggml_backend_load(str(library).encode()):
        raise SystemExit(f"could not load {library}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", help="load this CPU variant, not the best for this CPU")
    args = parser.parse_args()

    if args.variant:
        load_variant(args.variant)
    else:
        runtime.load_backends()
    import llama_cpp
    from llama_cpp import Llama

    threads = os.cpu_count() or 1
    llama = Llama(model_path=str(model_path()), n_ctx=2048, n_threads=threads, verbose=False)
    print(llama_cpp.llama_print_system_info().decode().strip())
    sentence = " The coalition of the willing met in Paris to discuss security guarantees."
    tokens = llama.tokenize(sentence.encode())
    prompt = (tokens * (args.prompt_tokens // len(tokens) + 1))[: args.prompt_tokens]

    prompt_rates, gen_rates = [], []
    for _ in range(args.repeats):
        llama.reset()
        started = time.perf_counter()
        llama.eval(prompt)
        prompt_rates.append(len(prompt) / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(args.gen_tokens):
            token = llama.sample(temp=0.0)
            llama.eval([token])
        gen_rates.append(args.gen_tokens / (time.perf_counter() - started))
    llama.close()
    print(
        f"prompt: {statistics.median(prompt_rates):.1f} tokens/s ({len(prompt)} tokens), "
        f"generation: {statistics.median(gen_rates):.1f} tokens/s ({args.gen_tokens} tokens), "
        f"{threads} threads, median of {args.repeats}"
    )


if __name__ == "__main__":
    main()
