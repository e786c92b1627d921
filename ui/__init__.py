"""The Gradio chat over the :mod:`rag` Python API (``rag chat``).

Skipped under doctest: ``serve`` starts a web server and blocks.

>>> from ui import build_app, serve   # doctest: +SKIP
>>> serve(index_dir="index")           # doctest: +SKIP

``build_app`` and ``serve`` are imported on first use: importing Gradio takes
seconds, and :mod:`ui.render` or :mod:`ui.chat` do not need it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ui import app

        return getattr(app, name)
    raise AttributeError(f"module 'ui' has no attribute {name!r}")
