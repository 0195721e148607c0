"""Read-only records (what the database hands out instead of copies) and index keys."""

from __future__ import annotations

import copy
import json
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, JsonValue
from pydantic_core import to_jsonable_python

from policy_agent.environment import FrozenList, FrozenRecord
from policy_agent.environment._records import (
    NEVER_EQUAL,
    copy_json,
    freeze_record,
    json_equal,
    match_key,
)

RECORD = {"status": "confirmed", "nights": [1, 2], "payment": {"amount": 100, "legs": [{"d": 1}]}}


@pytest.fixture
def record() -> FrozenRecord:
    return freeze_record(copy.deepcopy(RECORD), where="bookings[B1]")


_CHANGES: list[Callable[[Any], object]] = [
    lambda r: r.__setitem__("status", "x"),
    lambda r: r.__delitem__("status"),
    lambda r: r.update(status="x"),
    lambda r: r.setdefault("new", 1),
    lambda r: r.pop("status"),
    lambda r: r.popitem(),
    lambda r: r.clear(),
    lambda r: r.__ior__({"status": "x"}),
    lambda r: r["nights"].append(3),
    lambda r: r["nights"].extend([3]),
    lambda r: r["nights"].insert(0, 3),
    lambda r: r["nights"].__setitem__(0, 3),
    lambda r: r["nights"].__delitem__(0),
    lambda r: r["nights"].__iadd__([3]),
    lambda r: r["nights"].__imul__(2),
    lambda r: r["nights"].pop(),
    lambda r: r["nights"].remove(1),
    lambda r: r["nights"].sort(),
    lambda r: r["nights"].reverse(),
    lambda r: r["nights"].clear(),
    lambda r: r["payment"].__setitem__("amount", 0),
    lambda r: r["payment"]["legs"][0].__setitem__("d", 2),
]


@pytest.mark.parametrize("change", _CHANGES)
def test_no_change_in_place_is_possible_at_any_depth(
    record: FrozenRecord, change: Callable[[Any], object]
) -> None:
    with pytest.raises(TypeError, match=r"^records read from the database are read-only"):
        change(record)
    assert record == RECORD


def test_reading_works_as_on_plain_values(record: FrozenRecord) -> None:
    assert isinstance(record, dict) and isinstance(record["nights"], list)
    assert record == RECORD and {**record} == RECORD
    assert record["nights"] + [3] == [1, 2, 3]
    assert 2 in record["nights"] and record["nights"][1:] == [2]
    assert type(record["nights"] + [3]) is list and type(record["nights"][1:]) is list
    assert json.loads(json.dumps(record)) == RECORD
    assert to_jsonable_python(record) == RECORD

    class Booking(BaseModel):
        status: str
        nights: list[int]
        payment: dict[str, JsonValue]

    assert Booking.model_validate(record).model_dump() == RECORD


def test_copies_are_plain_and_pickles_stay_frozen(record: FrozenRecord) -> None:
    deep = copy.deepcopy(record)
    assert deep == RECORD and type(deep) is dict and type(deep["payment"]["legs"]) is list  # type: ignore[index]
    deep["payment"]["legs"][0]["d"] = 2  # type: ignore[index]
    assert record == RECORD
    shallow = copy.copy(record)
    shallow["status"] = "changed"
    assert type(shallow) is dict and record["status"] == "confirmed"
    assert type(copy.copy(record["nights"])) is list
    restored = pickle.loads(pickle.dumps(record))
    assert restored == RECORD and type(restored) is FrozenRecord
    assert type(restored["nights"]) is FrozenList


def test_a_frozen_copy_checks_values_as_writes_do() -> None:
    with pytest.raises(TypeError, match=r"^t\[1\]\.when: a set is not a JSON value"):
        copy_json({"when": {1}}, where="t[1]", frozen=True)
    with pytest.raises(TypeError, match=r"^t\[1\]: key 3 is not a string"):
        copy_json({3: "x"}, where="t[1]", frozen=True)
    frozen = copy_json({"a": (1, 2)}, where="t", frozen=True)
    assert frozen == {"a": [1, 2]} and type(frozen["a"]) is FrozenList  # type: ignore[index]
    kept = [1]
    built = FrozenRecord({"kept": kept})  # frozen outside, a list its builder keeps inside
    stored = copy_json({"inner": built}, where="t", frozen=True)
    kept.append(2)
    assert stored == {"inner": {"kept": [1]}} and type(stored["inner"]["kept"]) is FrozenList  # type: ignore[index, call-overload]


_NUMBERS = st.integers(-3, 3) | st.floats(-3, 3) | st.sampled_from([0.0, -0.0, 1.0, 2**53, 1e300])
_SCALARS = st.none() | st.booleans() | _NUMBERS | st.floats() | st.text(max_size=2)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=8,
)


@given(_VALUES, _VALUES)
def test_match_keys_are_equal_exactly_when_find_finds_the_values_equal(
    a: JsonValue, b: JsonValue
) -> None:
    key_a, key_b = match_key(a), match_key(b)
    if key_a is NEVER_EQUAL or key_b is NEVER_EQUAL:
        assert not json_equal(a, b, exact=False)
    else:
        assert (key_a == key_b) == json_equal(a, b, exact=False)
        assert key_a != key_b or hash(key_a) == hash(key_b)


def test_match_keys_of_values_python_finds_equal_but_find_does_not() -> None:
    assert match_key(True) != match_key(1) and match_key(False) != match_key(0)
    assert match_key([True]) != match_key([1])
    assert match_key(1) == match_key(1.0) and match_key({"a": 1, "b": 2}) == match_key(
        {"b": 2, "a": 1.0}
    )
    assert match_key(math.nan) is NEVER_EQUAL and match_key({"x": [math.nan]}) is NEVER_EQUAL
    assert match_key("1") != match_key(1) and match_key(None) != match_key("")
