"""Run a generator on one thread of its own, handing its items to the caller.

The thread never waits for its reader. Gradio takes a synchronous generator's items one
``next()`` at a time and renders the whole chat between two of them; an answer advanced
that way would hold the local model (:class:`rag.llm.local.LocalLLM` locks it for a whole
stream) through all of that rendering, while other sessions wait for it. Here the answer
runs to its end at the model's pace and frees the model then; the reader catches up from
an unbounded queue.

>>> list(in_thread(lambda: iter([1, 2, 3])))
[1, 2, 3]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def in_thread(
    make: Callable[[], Iterator[T]], idle: float | None = None
) -> Generator[T | None, None, None]:
    """Iterate ``make()`` on a new daemon thread; its exceptions are raised here.

    With ``idle``, a ``None`` is yielded whenever no item came for that many seconds
    (a clock on the screen can move on while the model thinks).

    When the caller stops early (the browser tab closed), the thread stops at the
    next item and closes the generator, which releases what it holds (a model lock).
    """
    items: queue.SimpleQueue[object] = queue.SimpleQueue()  # unbounded: put never blocks
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(make, items, stop), daemon=True)
    thread.start()
    try:
        while (item := _next(items, idle)) is not _DONE:
            if item is None:
                yield None
                continue
            if isinstance(item, _Raised):
                raise item.error
            yield item  # type: ignore[misc]  # anything else is a T from make()
    finally:
        stop.set()


def _next(items: queue.SimpleQueue[object], idle: float | None) -> object:
    try:
        return items.get(timeout=idle)
    except queue.Empty:
        return None


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _produce(
    make: Callable[[], Iterator[T]], items: queue.SimpleQueue[object], stop: threading.Event
) -> None:
    try:
        iterator = make()
        try:
            for item in iterator:
                items.put(item)
                if stop.is_set():
                    break
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
    except BaseException as error:  # handed to the consumer, who decides
        items.put(_Raised(error))
    finally:
        items.put(_DONE)
