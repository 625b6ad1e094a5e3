"""Stand-ins for the reader's own objects that README and docs examples name.

An example says ``my_embedding_api`` or ``my_chat_model`` where the reader passes theirs
(an OpenAI client, a hosted model...). The code-block test defines these names, and only
these, before a page's first block, as real offline objects of the right kind:

- ``my_embedding_api``: ``str -> list[float]`` (the built-in lexical embedder, 256-d);
- ``query_vector``: one such vector;
- ``my_embeddings``: a LangChain ``Embeddings`` (``DeterministicFakeEmbedding``, 64-d);
- ``my_chat_model``: a LangChain chat model (``FakeListChatModel``, streams per character);
- ``my_embed_model``: a LlamaIndex embedding (:class:`HashingEmbedding`);
- ``my_llm``: a LlamaIndex ``LLM`` (``MockLLM``);
- ``docs``: three LlamaIndex ``Document`` objects.
"""

from __future__ import annotations

from typing import Any


def placeholders() -> dict[str, Any]:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.language_models import FakeListChatModel
    from llama_index.core import Document
    from llama_index.core.llms import MockLLM

    from semcache_core import HashingEmbedder
    from semcache_integrations.llama_index import HashingEmbedding

    lexical = HashingEmbedder()

    def my_embedding_api(text: str) -> list[float]:
        return [float(x) for x in lexical.embed_query(text)]

    return {
        "my_embedding_api": my_embedding_api,
        "query_vector": my_embedding_api("password reset"),
        "my_embeddings": DeterministicFakeEmbedding(size=64),
        "my_chat_model": FakeListChatModel(responses=["Paris is the capital of France."]),
        "my_embed_model": HashingEmbedding(),
        "my_llm": MockLLM(max_tokens=16),
        "docs": [
            Document(text="Reset your password from the account page.", metadata={"year": 2024}),
            Document(text="Invoices are sent on the first of the month.", metadata={"year": 2023}),
            Document(text="Support answers within one business day.", metadata={"year": 2025}),
        ],
    }
