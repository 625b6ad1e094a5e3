"""The LlamaIndex part of the demo: both stores answer alike and survive a reload."""

from __future__ import annotations

import io

from rich.console import Console

from semcache_integrations.demo_llamaindex import llamaindex_demo


def test_both_stores_find_the_same_filtered_hits_before_and_after_reload() -> None:
    output = io.StringIO()
    figures = llamaindex_demo(300, Console(file=output, width=150))
    ours, simple = figures["semcache"], figures["SimpleVectorStore"]
    assert ours["hits"] and ours["hits"] == simple["hits"]
    assert all(meta["topic"] == "billing" and meta["year"] >= 2022 for _, meta in ours["hits"])
    assert ours["same_after_reload"] and simple["same_after_reload"]
    assert ours["bytes"] < simple["bytes"]
    assert "same hits" in output.getvalue()


def test_the_hashing_embedding_is_the_engines_lexical_embedder() -> None:
    import numpy as np

    from semcache_core import HashingEmbedder
    from semcache_integrations.llama_index import HashingEmbedding

    text = "How do I reset my password?"
    ours = HashingEmbedding()
    engine = HashingEmbedder()
    assert np.allclose(ours.get_text_embedding(text), engine.embed_document(text))
    assert np.allclose(ours.get_query_embedding(text), engine.embed_query(text))
