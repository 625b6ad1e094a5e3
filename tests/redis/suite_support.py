"""Helpers for the backend suite: a SemCache on a chosen backend, and existing test
functions of tests/unit re-run with their ``SemCache()`` on that backend.

A test written against ``SemCache(...)`` generically (no ``max_entries``, ``index``,
``path`` or ``backend``) runs unchanged on Redis when its module's ``SemCache`` name is
swapped for :func:`cache_class`'s subclass, which hands every new cache a fresh backend
(its own key prefix, so two caches of one test stay apart, as two local caches do).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from semcache_core import SemCache
from semcache_core.backends.base import Backend
from semcache_core.backends.local import LocalBackend
from semcache_core.backends.redis import RedisBackend

UNIT = Path(__file__).resolve().parents[1] / "unit"
KINDS = ["local", "standalone", "cluster"]


_PREFIXES = itertools.count()  # every backend of a run has its own key prefix


class BackendMaker:
    """Fresh backends of one kind on a shared client, each under its own key prefix (so
    no flush is needed between tests); clears and closes the Redis ones it made."""

    def __init__(self, kind: str, client: Any) -> None:
        self.kind = kind
        self.client = client
        self.made: list[RedisBackend] = []

    def __call__(self, **options: Any) -> Backend:
        if self.kind == "local":
            return LocalBackend(**options)
        options.setdefault("prefix", f"suite{next(_PREFIXES)}")
        backend = RedisBackend(client=self.client, **options)
        self.made.append(backend)
        return backend

    def close(self) -> None:
        for backend in self.made:
            backend.clear()
            backend.close()


class ClientPool:
    """One client per kind on the session's servers (started on first use); a module
    fixture holds one, so tests do not each connect and flush."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._clients: dict[str, Any] = {}

    def maker(self, kind: str) -> BackendMaker:
        if kind != "local" and kind not in self._clients:
            server = "redis_standalone" if kind == "standalone" else "redis_cluster"
            self._clients[kind] = self._request.getfixturevalue(server).client()
        return BackendMaker(kind, self._clients.get(kind))

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


_BACKEND_OPTIONS = ("max_entries", "index", "hnsw_threshold", "hnsw_params", "path", "backend")


def cache_class(make: Callable[[], Backend]) -> type[SemCache]:
    """A ``SemCache`` whose caches made without backend options live on ``make()``."""

    class OnBackend(SemCache):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            bound = inspect.signature(SemCache.__init__).bind(self, *args, **kwargs)
            given = set(bound.arguments) & set(_BACKEND_OPTIONS)
            if given:
                raise AssertionError(f"not generic: configures the backend with {given}")
            super().__init__(*args, backend=make(), **kwargs)

    OnBackend.__name__ = OnBackend.__qualname__ = "SemCache"
    return OnBackend


def load_unit_module(name: str, folder: Path = UNIT) -> ModuleType:
    """``tests/unit/<name>.py`` (or another test folder's) imported under a private name:
    pytest does not collect it twice; take helpers from it, not ``Test*`` classes."""
    spec = importlib.util.spec_from_file_location(f"_suite_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))  # for the helper modules beside it
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def call_unit_test(module: ModuleType, function: Any, kwargs: dict[str, Any]) -> None:
    """Run ``function(**kwargs)``, filling its other arguments from the module's own
    function-scoped fixtures (called plainly, so they build caches on the swapped class)."""
    made: dict[str, Any] = {}

    def resolve(name: str) -> Any:
        if name not in made:
            fixture = inspect.unwrap(getattr(module, name))
            made[name] = fixture(
                **{arg: resolve(arg) for arg in inspect.signature(fixture).parameters}
            )
        return made[name]

    arguments = {
        name: kwargs[name] if name in kwargs else resolve(name)
        for name in inspect.signature(function).parameters
    }
    result = function(**arguments)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def unit_cases(module: ModuleType, names: list[str], per_test: int) -> list[Any]:
    """``pytest.param(module, function, kwargs)`` for each named test and at most
    ``per_test`` of its ``parametrize`` combinations (spread from first to last)."""
    cases = []
    for name in names:
        function = getattr(module, name)
        combos: list[dict[str, Any]] = [{}]
        for mark in getattr(function, "pytestmark", []):
            if mark.name != "parametrize":
                continue
            argnames, values = mark.args[0], mark.args[1]
            argnames = (
                [a.strip() for a in argnames.split(",")]
                if isinstance(argnames, str)
                else list(argnames)
            )
            rows = []
            for value in values:
                value = (
                    value.values
                    if hasattr(value, "values") and not isinstance(value, dict)
                    else value
                )
                row = value if len(argnames) > 1 else (value,)
                rows.append(dict(zip(argnames, row)))
            combos = [{**c, **r} for c in combos for r in rows]
        if len(combos) > per_test:
            step = (len(combos) - 1) / (per_test - 1)
            combos = [combos[round(i * step)] for i in range(per_test)]
        for i, kwargs in enumerate(combos):
            case_id = name if len(combos) == 1 else f"{name}[{i}]"
            cases.append(pytest.param(module, function, kwargs, id=case_id))
    return cases
