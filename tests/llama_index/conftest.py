"""Fixtures shared by this folder's tests (defined in tests/support/llama_support.py)."""

from llama_support import no_llm

__all__ = ["no_llm"]
