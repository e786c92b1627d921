"""The ``local`` backend (the default): a GGUF model run in-process by llama.cpp.

The model is loaded on first use (about 2 s for the bundled 1.1 GB
Qwen2.5-Coder-1.5B-Instruct), or ahead of time with :meth:`LocalLLM.load` so a UI
can show "loading the model…". The chat template stored in the GGUF formats the
messages. llama.cpp is not re-entrant, so one lock serialises loading and
generation: a second caller waits until the first stream is consumed or closed.

Example::

    llm = LocalLLM()  # the bundled model, or $RAG_LOCAL_MODEL
    print("".join(llm.stream([Message("user", "Say hi")], max_tokens=20)))
    print(llm.last_usage)  # {'chunks': 2, 'prompt_tokens': 30, 'completion_tokens': 2, ...}
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import BackendError, ConfigError, IncompleteResponse, ModelNotFound, RagError
from rag.llm import runtime
from rag.llm.base import Message
from rag.llm.gguf import model_path as resolve_model_path

if TYPE_CHECKING:  # importing llama_cpp loads a shared library; do it on first use only
    from llama_cpp import Llama

_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


class LocalLLM:
    """Streams chat replies from a GGUF model (satisfies ``rag.llm.base.LLM``).

    After each stream ``last_usage`` holds ``chunks`` (content pieces yielded),
    ``prompt_tokens``, ``completion_tokens`` and ``total_tokens``.
    """

    name = "local"

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        if n_ctx < 128:
            raise ConfigError(f"n_ctx {n_ctx!r} is too small; give 128 or more, e.g. 4096")
        if n_threads is not None and n_threads < 1:
            raise ConfigError(f"n_threads {n_threads!r} must be 1 or more (or None for all CPUs)")
        self._requested_path = None if model_path is None else str(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.seed = seed
        self.model_file: Path | None = None  # set by load()
        self.last_usage: dict[str, int] = {}
        self._llama: Llama | None = None
        self._lock = threading.Lock()
        self.busy_timeout = 600.0  # seconds a caller waits for another answer to finish

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self) -> None:
        """Load the model now (idempotent); raises ModelNotFound if it cannot be loaded."""
        with self._exclusive():
            self._load_locked()

    def close(self) -> None:
        """Free the model now; the next stream loads it again.

        llama-cpp-python frees a model it still holds at interpreter exit, after its
        own helpers are gone, and prints a TypeError traceback: close it before.
        """
        with self._exclusive():
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1; got {max_tokens!r}")
        if temperature < 0:
            raise ConfigError(f"temperature must be 0 or more; got {temperature!r}")
        with self._exclusive():
            llama = self._load_locked()
            yield from self._generate(llama, messages, max_tokens, temperature)

    def p_yes(self, messages: Sequence[Message]) -> float:
        """The model's probability that its reply starts with "Yes" rather than "No".

        One forward pass over the prompt, no sampling. The prompt is formatted by the
        GGUF's chat template exactly as :meth:`stream` formats it, so a reply asked
        right after with the same sources reuses the evaluated prefix (llama.cpp's KV
        cache): only the differing instruction at the end is evaluated again.
        """
        with self._exclusive():
            llama = self._load_locked()
            try:
                tokens = self._chat_tokens(llama, messages)
                _eval_reusing_prefix(llama, tokens)
                logits = np.ctypeslib.as_array(
                    llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)
                )
            except Exception as err:
                raise _describe(err, 0) from err
            yes, no = (_first_tokens(llama, words) for words in (_YES, _NO))
            return _share(logits, yes, no)

    @staticmethod
    def _chat_tokens(llama: Llama, messages: Sequence[Message]) -> list[int]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError("the local model's GGUF has no chat template to ask it yes/no")
        text = llama._model.token_get_text
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=text(eos) if eos != -1 else "",
            bos_token=text(bos) if bos != -1 else "",
        )
        history = [{"role": m.role, "content": m.content} for m in messages]
        prompt = formatter(messages=history).prompt  # type: ignore[arg-type]
        return list(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        # Not thread-aware on purpose: Gradio advances one generator from several
        # pool threads, so "the same thread" says nothing about who holds the model.
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise BackendError(
                f"the local model stayed busy with another answer for {self.busy_timeout:g} s; "
                "try again (an unfinished stream must be consumed or closed)"
            )
        try:
            yield
        finally:
            self._lock.release()

    def _load_locked(self) -> Llama:
        if self._llama is not None:
            return self._llama
        path = resolve_model_path(self._requested_path)
        # A native crash would take this whole process down without a word: prove first,
        # in a child process, that this build runs on this CPU (once, then remembered).
        runtime.ensure_runs(path)
        runtime.load_backends()
        from llama_cpp import Llama

        try:
            self._llama = Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                seed=self.seed,
                verbose=False,
            )
        except Exception as err:  # llama.cpp reports a bad file as a bare ValueError
            raise ModelNotFound(
                f"llama.cpp could not load the model {str(path)!r}: {err}; the file may be "
                "truncated or of a model architecture this llama.cpp does not know"
            ) from err
        self.model_file = path
        return self._llama

    def _generate(
        self, llama: Llama, messages: Sequence[Message], max_tokens: int, temperature: float
    ) -> Iterator[str]:
        self.last_usage = {"chunks": 0}
        history: Any = [{"role": m.role, "content": m.content} for m in messages]
        parts: list[str] = []
        finish: str | None = None
        prompt_tokens: int | None = None
        chunks: Any = None
        try:
            chunks = llama.create_chat_completion(
                messages=history,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=self.seed,
                stream=True,
            )
            for chunk in chunks:
                choice = chunk["choices"][0]
                content = choice["delta"].get("content")
                if content:
                    if prompt_tokens is None:
                        # The prompt is evaluated, the token just sampled is not yet.
                        prompt_tokens = llama.n_tokens
                    parts.append(content)
                    self.last_usage["chunks"] += 1
                    yield content
                finish = choice.get("finish_reason") or finish
        except RagError:
            raise
        except Exception as err:
            raise _describe(err, len(parts)) from err
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()  # an abandoned stream must not hold llama.cpp's generator open
        total = llama.n_tokens + (1 if finish == "length" else 0)  # the last token is unevaluated
        self._record_usage(prompt_tokens if prompt_tokens is not None else total, total)
        self._check_finish(finish, "".join(parts), max_tokens)

    def _record_usage(self, prompt_tokens: int, total_tokens: int) -> None:
        self.last_usage.update(
            prompt_tokens=prompt_tokens,
            completion_tokens=total_tokens - prompt_tokens,
            total_tokens=total_tokens,
        )

    def _check_finish(self, finish: str | None, text: str, max_tokens: int) -> None:
        if finish == "stop":
            return
        if finish is None:
            raise IncompleteResponse(
                "llama.cpp ended the stream without a finish reason (the reply may be cut off)",
                partial=text,
            )
        if self.last_usage["total_tokens"] >= self.n_ctx:
            why = (
                f"filled the model's {self.n_ctx}-token context window "
                f"(the prompt took {self.last_usage['prompt_tokens']}); give fewer sources"
            )
        else:
            why = f"hit the max_tokens limit ({max_tokens}); raise max_tokens"
        raise IncompleteResponse(f"the local model's reply was cut off: it {why}", partial=text)


_YES = ("Yes", " Yes", "yes")
_NO = ("No", " No", "no")


def _first_tokens(llama: Llama, words: Sequence[str]) -> set[int]:
    return {llama.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}


def _share(logits: np.ndarray, yes: set[int], no: set[int]) -> float:
    """P(yes) / (P(yes) + P(no)) from raw logits, computed stably."""
    pick = np.array([logits[i] for i in (*yes, *no)], dtype=np.float64)
    weights = np.exp(pick - pick.max())
    return float(weights[: len(yes)].sum() / weights.sum())


def _eval_reusing_prefix(llama: Llama, tokens: list[int]) -> None:
    """Evaluate ``tokens``, keeping the KV cache of the prefix shared with the last prompt."""
    same = 0
    for old, new in zip(llama.input_ids[: llama.n_tokens], tokens, strict=False):
        if old != new:
            break
        same += 1
    llama.n_tokens = min(same, len(tokens) - 1)  # at least one token, for fresh logits
    llama.eval(tokens[llama.n_tokens :])


def _describe(err: Exception, n_chunks: int) -> BackendError:
    """A one-line BackendError; a too-long prompt names both token counts."""
    match = _TOO_LONG.search(str(err))
    if match:
        prompt, window = match.groups()
        return BackendError(
            f"the prompt is {prompt} tokens but the local model's context window is {window}; "
            "ask with fewer or shorter sources, or raise n_ctx"
        )
    detail = " ".join(str(err).split()) or type(err).__name__
    return BackendError(f"llama.cpp failed after {n_chunks} chunk(s): {detail}")
