"""The LLM-cache peers of ``bench_llm_cache.py``, built as their documentation shows, with
the settings that benchmark's docstring gives and why.

Example::

    cache = gptcache(embeddings, Path(tmp), 0.8, whole=True)   # LangChain's GPTCache adapter
    set_llm_cache(cache)
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.caches import BaseCache
from langchain_core.embeddings import Embeddings


def lasting_directory(prefix: str) -> Path:
    """A temporary directory removed at interpreter exit, after GPTCache's own exit hooks
    (each GPTCache registers one that writes its faiss index; ``atexit`` runs the last
    registered first)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def sqlite_cache(path: Path) -> BaseCache:
    with warnings.catch_warnings():  # "langchain-community is being sunset" on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.cache import SQLiteCache
    return SQLiteCache(database_path=str(path))


def question_text(data: dict[str, Any], **_: Any) -> str:
    """GPTCache ``pre_embedding_func``: the last human message of LangChain's chat prompt
    JSON (the prompt itself when it is not such JSON)."""
    prompt = str(data.get("prompt"))
    try:
        messages = json.loads(prompt)
        humans = [m for m in messages if m.get("id", [""])[-1] == "HumanMessage"]
        return str(humans[-1]["kwargs"]["content"])
    except (ValueError, TypeError, LookupError, AttributeError):
        return prompt


def gptcache(
    embeddings: Embeddings, dim: int, directory: Path, threshold: float, whole: bool
) -> Any:
    """langchain-community's ``GPTCache`` adapter over GPTCache with SQLite + faiss in
    ``directory``, ``embeddings`` and ``SearchDistanceEvaluation``; ``whole``: embed the
    prompt LangChain passes (``get_prompt``), else the question's text only."""
    from gptcache import Config as GPTConfig
    from gptcache.manager import CacheBase, VectorBase, get_data_manager
    from gptcache.processor.pre import get_prompt
    from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation

    with warnings.catch_warnings():  # "langchain-community is being sunset" on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.cache import GPTCache

    def embed(text: str, **_: Any) -> np.ndarray:
        return np.asarray(embeddings.embed_query(text), dtype=np.float32)

    def init(cache_obj: Any, llm_string: str) -> None:
        where = directory / hashlib.sha256(llm_string.encode()).hexdigest()[:16]
        where.mkdir(parents=True, exist_ok=True)
        manager = get_data_manager(
            CacheBase("sqlite", sql_url=f"sqlite:///{where / 'gptcache.db'}"),
            VectorBase("faiss", dimension=dim, index_path=str(where / "faiss.index")),
        )
        cache_obj.init(
            pre_embedding_func=get_prompt if whole else question_text,
            embedding_func=embed,
            data_manager=manager,
            similarity_evaluation=SearchDistanceEvaluation(),
            config=GPTConfig(similarity_threshold=threshold),
        )

    return GPTCache(init)


def redis_semantic(embeddings: Embeddings, url: str, distance: float, name: str) -> Any:
    from langchain_redis import RedisSemanticCache

    return RedisSemanticCache(
        embeddings=embeddings, redis_url=url, distance_threshold=distance, name=name
    )
