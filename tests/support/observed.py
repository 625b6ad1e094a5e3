"""The verified-mode observations an engine's LLM entries hold (for adapter tests).

Example::

    from observed import stored_observations
    assert stored_observations(cache.engine) == [[[0.93, 1]]]
"""

from __future__ import annotations

from semcache_core import SemCache
from semcache_core.verified_responses import OBSERVATIONS_FIELD


def stored_observations(engine: SemCache, namespace: str = "llm:default") -> list[object]:
    """Each entry's observation record, for the entries that have one."""
    found = []
    for key in engine.scan("", namespace=namespace):
        entry = engine.get_entry(key, namespace=namespace)
        if entry is not None and OBSERVATIONS_FIELD in entry.metadata:
            found.append(entry.metadata[OBSERVATIONS_FIELD])
    return found
