"""Grounded question answering over news articles, with checked inline citations.

Skipped under doctest: building writes ./index and loads MiniLM.

>>> import rag
>>> kb = rag.build("seeds", "index")   # doctest: +SKIP
>>> kb.search("question", k=5)         # doctest: +SKIP
"""

from rag.errors import RagError
from rag.kb import KnowledgeBase, build, load
from rag.types import Answer, Article, Chunk, Citation, Hit

__all__ = [
    "Answer",
    "Article",
    "Chunk",
    "Citation",
    "Hit",
    "KnowledgeBase",
    "RagError",
    "build",
    "load",
]
__version__ = "0.1.0"
