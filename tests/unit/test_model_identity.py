"""``semcache_core.model_identity``: equal for models configured alike, different for any
setting that changes their output, the same in every process, and finite for any object."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from semcache_core.model_identity import NOT_IDENTITY, digest, identity

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


def test_huge_and_self_referring_settings_stay_small_and_finite() -> None:
    vocabulary = {f"token{i}": i for i in range(50_000)}
    looped = Plain(vocabulary=vocabulary, name="x")
    looped.me = looped
    text = identity(looped)
    assert len(text) < 2_000 and "50000" in text
    assert len(digest(looped)) == 16
