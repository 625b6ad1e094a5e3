"""Parametrises every conformance test over the store factories that support it.

A test asks for the ``factory`` argument. ``@requires(...)`` (in the test module) names the
features it needs; ``@cases(...)`` gives per-case parameters with their own features. Only
the (factory, case) pairs a factory supports are generated. A test that no factory
supports yet is deselected at collection (reported as deselected), never skipped.
"""

from __future__ import annotations

from typing import Any

import pytest
from conformance_factories import FACTORIES, REFERENCE
from llama_support import no_llm  # a fixture for this folder's tests (see tests/support)

__all__ = ["no_llm", "pytest_generate_tests"]

_NO_FACTORY = object()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "factory" not in metafunc.fixturenames:
        return
    needs: frozenset[str] = getattr(metafunc.function, "_requires", frozenset())
    factories = [f for f in FACTORIES if needs <= f.supports]
    if getattr(metafunc.function, "_not_reference", False):  # compares a store with REFERENCE
        factories = [f for f in factories if f is not REFERENCE]
    case_list: list[tuple[str, Any, frozenset[str]]] | None = getattr(
        metafunc.function, "_cases", None
    )
    if case_list is None:
        params = [pytest.param(f, id=f.name) for f in factories]
        names: Any = "factory"
        empty = pytest.param(_NO_FACTORY, id="unsupported")
    else:
        params = [
            pytest.param(f, case, id=f"{f.name}-{case_id}")
            for f in factories
            for case_id, case, case_needs in case_list
            if case_needs <= f.supports
        ]
        names = ("factory", "case")
        empty = pytest.param(_NO_FACTORY, None, id="unsupported")
    metafunc.parametrize(names, params or [empty])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unsupported = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("factory") is _NO_FACTORY
    ]
    if unsupported:
        config.hook.pytest_deselected(items=unsupported)
        items[:] = [item for item in items if item not in unsupported]
