"""Thin adapters from LangChain and LlamaIndex to the semcache engine, and the CLI."""
