"""``semcache_core.model_identity``: equal for models configured alike, different for any
setting that changes their output, the same in every process, and finite for any object."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from semcache_core.model_identity import NOT_IDENTITY, identity

SETTINGS = st.dictionaries(
    st.text(alphabet="abcdefghij", min_size=1, max_size=6),
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
    ),
    max_size=5,
)
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True, database=None)


class Plain:
    """A model that is not pydantic: its attributes are its settings."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


class Pydantic(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = "m"
    temperature: float = 0.0
    handle: Any = None  # no JSON form for a lock
    prompt_function: Any = None


@EXAMPLES
@given(first=SETTINGS, second=SETTINGS)
def test_plain_objects_share_an_identity_only_when_their_settings_are_equal(first, second):
    if identity(Plain(**first)) == identity(Plain(**second)):
        assert first == second  # (1 and 1.0 may still differ: a miss, never a wrong hit)
    assert identity(Plain(**first)) == identity(Plain(**dict(reversed(first.items()))))


@EXAMPLES
@given(temperature=st.floats(0, 2), other=st.floats(0, 2))
def test_a_pydantic_field_without_a_json_form_leaves_the_others_counted(temperature, other):
    a = Pydantic(temperature=temperature, handle=threading.Lock())
    b = Pydantic(temperature=other, handle=threading.Lock())
    assert (identity(a) == identity(b)) == (temperature == other)
    assert "<_thread.lock>" in identity(a)


@EXAMPLES
@given(key=st.text(max_size=8), timeout=st.integers(1, 100))
def test_credentials_and_transport_settings_are_left_out(key: str, timeout: int) -> None:
    assert {"api_key", "timeout", "client"} <= NOT_IDENTITY
    assert identity(Plain(model="m", api_key=key, timeout=timeout)) == identity(Plain(model="m"))


def factory(word: str, count: int = 1) -> Any:
    return lambda text: f"{word * count} {text}"


@EXAMPLES
@given(words=st.lists(st.text(max_size=6), min_size=2, max_size=4, unique=True))
def test_functions_of_one_name_differ_by_what_they_close_over(words: list[str]) -> None:
    made = [Pydantic(prompt_function=factory(word)) for word in words]
    assert len({identity(model) for model in made}) == len(words)
    assert identity(Pydantic(prompt_function=factory(words[0]))) == identity(made[0])


def test_functions_differ_by_code_and_defaults() -> None:
    def one(text: str, suffix: str = "!") -> str:
        return text + suffix

    def other(text: str, suffix: str = "?") -> str:
        return text + suffix

    other.__qualname__ = one.__qualname__  # same name: the defaults tell them apart
    assert identity(one) != identity(other)
    assert identity(lambda t: t.upper()) != identity(lambda t: t.lower())


def test_huge_and_self_referring_settings_are_told_apart_and_finite() -> None:
    """Every item counts (a 65-entry ``logit_bias``, a schema nested deep in kwargs: an
    earlier version named big or deep settings by their type and merged models)."""
    vocabulary = {f"token{i}": i for i in range(20_000)}
    looped = Plain(vocabulary=vocabulary, name="x")
    looped.me = looped
    changed = Plain(vocabulary={**vocabulary, "token19999": -1}, name="x")
    changed.me = changed
    assert '"<cycle>"' in identity(looped)
    assert identity(looped) != identity(changed)
    deep: dict[str, Any] = {"leaf": 1}
    other: dict[str, Any] = {"leaf": 2}
    for _ in range(12):
        deep, other = {"nested": deep}, {"nested": other}
    assert identity(Plain(kwargs=deep)) != identity(Plain(kwargs=other))


def fmt(text: str, language: str) -> str:
    return f"{language}: {text}"


def keyword_factory(language: str) -> Any:
    def prompt(text: str, *, lang: str = language) -> str:
        return f"{lang}: {text}"

    return prompt


class Slotted:
    __slots__ = ("model",)

    def __init__(self, model: str) -> None:
        self.model = model


class Private:
    def __init__(self, model: str) -> None:
        self._model = model


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (functools.partial(fmt, language="French"), functools.partial(fmt, language="German")),
        ("Answer in French: {}".format, "Answer in German: {}".format),
        (keyword_factory("French"), keyword_factory("German")),
        (Slotted("small"), Slotted("large")),
        (Private("small"), Private("large")),
        (
            Plain(bias=dict.fromkeys(range(65), 1)),
            Plain(bias={**dict.fromkeys(range(65), 1), 64: 2}),
        ),
        (Plain(tags={"a", "b"}), Plain(tags={"a", "c"})),
    ],
    ids=["partial", "bound-builtin", "keyword-default", "slots", "private", "65-items", "set"],
)
def test_settings_review_found_merged_are_told_apart(first: Any, second: Any) -> None:
    assert identity(first) != identity(second)


class Keyed(BaseModel):
    model: str = "m"
    openai_api_key: SecretStr | None = None
    max_tokens: int = 5


def test_secrets_do_not_count_and_token_limits_do() -> None:
    assert identity(Keyed(openai_api_key=SecretStr("one"))) == identity(
        Keyed(openai_api_key=SecretStr("two"))
    )
    assert identity(Keyed(max_tokens=5)) != identity(Keyed(max_tokens=6))


SEEDED = """
import sys
sys.path[:0] = sys.argv[1:]
from test_model_identity import Plain
from semcache_core.model_identity import digest
def pick(word):
    return lambda text: word if text in {"what", "who", "when", "where"} else text
print(digest(Plain(tags={"alpha", "beta", "gamma"}, prompt=pick("x"))))
"""


def test_the_identity_does_not_follow_the_hash_seed() -> None:
    """A set literal in a prompt function, or a set setting, iterates in hash-seed order:
    an identity built from their repr changed with every restart."""
    here = str(Path(__file__).parent)
    found = {
        subprocess.run(
            [sys.executable, "-c", SEEDED, here],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(found) == 1


# --- found by a review of tenancy: settings that were named by their type alone --------

NUMPY_VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(np.int64),
    st.floats(-1e6, 1e6, width=32).map(np.float32),
    st.lists(st.integers(0, 9), min_size=1, max_size=4).map(np.array),
)


@EXAMPLES
@given(first=NUMPY_VALUES, second=NUMPY_VALUES)
def test_numpy_settings_count_by_their_values(first: Any, second: Any) -> None:
    """``additional_kwargs={"seed": np.int64(1)}`` and ``... np.int64(2)``: one identity,
    so the second model was served the first's answers."""
    if identity(Plain(seed=first)) == identity(Plain(seed=second)):
        assert np.shape(first) == np.shape(second) and np.array_equal(first, second)
    assert identity(Plain(seed=first)) == identity(Plain(seed=first.copy()))
    assert identity(Plain(seed=np.int64(1))) != identity(Plain(seed=np.int64(2)))


def test_dict_keys_of_other_types_are_other_settings() -> None:
    assert identity(Plain(bias={1: 5})) != identity(Plain(bias={"1": 5}))
    assert identity(Plain(bias={"a": 5})) == identity(Plain(bias={"a": 5}))


class Person(BaseModel):
    name: str
    age: int


class Company(BaseModel):
    name: str
    employees: int


class Structured(BaseModel):
    """As LlamaIndex's ``StructuredLLM``: the output class is left out of dumps."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = "m"
    output_cls: Any = Field(default=None, exclude=True)


def test_an_output_class_left_out_of_dumps_still_counts_with_its_schema() -> None:
    assert identity(Structured(output_cls=Person)) != identity(Structured(output_cls=Company))
    assert identity(Structured(output_cls=Person)) == identity(Structured(output_cls=Person))

    class Redefined(BaseModel):  # a notebook cell run again with another field
        name: str

    first = Redefined

    class Redefined(BaseModel):  # type: ignore[no-redef]
        name: str
        age: int

    assert identity(Structured(output_cls=first)) != identity(Structured(output_cls=Redefined))
