"""Shared pytest fixtures."""

from __future__ import annotations

# A scriptable OpenAI-compatible server on loopback; see tests/fake_openai_server.py.
from fake_openai_server import openai_server

__all__ = ["openai_server"]
