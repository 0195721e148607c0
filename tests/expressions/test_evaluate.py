"""The interpreter: operators, the value rules they share, and their runtime errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import JsonValue

from policy_agent.expressions import ExpressionEvaluationError, Scope, compile_expression

from ._support import NOW, evaluate

RECORD: dict[str, JsonValue] = {
    "id": "B11246",
    "status": "confirmed",
    "cribs": 1,
    "rate": 120.5,
    "tags": ["quiet", "late"],
    "guest": {"name": "Ada", "vip": True},
    "check-in": "2025-06-10",
}


def ev(source: str, **variables: JsonValue) -> JsonValue:
    return evaluate(source, record=RECORD, count=2, **variables)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 + 2", 3),
        ("1 + 2.5", 3.5),
        ("'ab' + 'cd'", "abcd"),
        ("[1] + [2, 3]", [1, 2, 3]),
        ("7 - 10", -3),
        ("3 * 4", 12),
        ("0.5 * 4", 2.0),
        ("300 / 2", 150),
        ("7 / 2", 3.5),
        ("-7 / 2", -3.5),
        ("7.0 / 2", 3.5),
        ("6.0 / 2", 3.0),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("7.5 % 2", 1.5),
        ("-count", -2),
        ("-2.5", -2.5),
        ("2 + 3 * 4 - 6 / 3", 12),
        ("(2 + 3) * 4", 20),
        ("record.cribs + count", 3),
        ("record.rate * 2", 241.0),
    ],
)
def test_arithmetic(source: str, value: JsonValue) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("1 == 1", True),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("false == 0", False),
        ("true != 1", True),
        ("null == null", True),
        ("null == 0", False),
        ("null == ''", False),
        ("'1' == 1", False),
        ("[1, 2] == [1, 2.0]", True),
        ("[1, 2] == [2, 1]", False),
        ("[true] == [1]", False),
        ("record.guest == record.guest", True),
        ("record.status != 'cancelled'", True),
        ("1 < 2", True),
        ("2 <= 2.0", True),
        ("3 > 2.5", True),
        ("2 >= 3", False),
        ("'apple' < 'banana'", True),
        ("'2025-06-04' < '2025-06-10'", True),
    ],
)
def test_comparisons(source: str, value: bool) -> None:
    assert ev(source) is value


def test_equality_of_mappings_is_deep_and_ignores_key_order() -> None:
    left: JsonValue = {"a": 1, "b": [1, {"c": True}]}
    right: JsonValue = {"b": [1.0, {"c": True}], "a": 1.0}
    assert evaluate("x == y", x=left, y=right) is True
    assert evaluate("x == y", x=left, y={"a": 1}) is False
    assert evaluate("x == y", x={"c": True}, y={"c": 1}) is False


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'conf' in record.status", True),
        ("'x' in record.status", False),
        ("'quiet' in record.tags", True),
        ("'loud' not in record.tags", True),
        ("1 in [1.0, 2]", True),
        ("true in [1]", False),
        ("[1] in [[1], 2]", True),
        ("'status' in record", True),
        ("'nope' in record", False),
        ("'nope' not in record", True),
    ],
)
def test_in(source: str, value: bool) -> None:
    assert ev(source) is value


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("true and true", True),
        ("true and false", False),
        ("false or true", True),
        ("1 and 'x'", True),
        ("0 or ''", False),
        ("[] or record.nope", False),
        ("not null", True),
        ("not 0", True),
        ("not 0.0", True),
        ("not ''", True),
        ("not []", True),
        ("not record.nope", True),
        ("not record", False),
        ("not 'false'", False),
    ],
)
def test_truth_rule(source: str, value: bool) -> None:
    assert ev(source) is value


def test_and_or_short_circuit() -> None:
    # The right side would fail (division by zero, a missing table) if it were evaluated.
    assert ev("false and 1 / 0 == 1") is False
    assert ev("true or 1 / 0 == 1") is True
    assert ev("record.cribs == 0 and exists('nowhere', 'x')") is False
    with pytest.raises(ExpressionEvaluationError, match="division by zero"):
        ev("true and 1 / 0 == 1")


def test_empty_mapping_is_false() -> None:
    assert evaluate("not m", m={}) is True


def test_members_and_indexes() -> None:
    assert ev("record.guest.name") == "Ada"
    assert ev("record['check-in']") == "2025-06-10"
    assert ev("record.tags[0]") == "quiet"
    assert ev("record.tags[-1]") == "late"
    assert ev("record.status[0]") == "c"
    assert ev("record.nope") is None
    assert ev("record['nope']") is None
    assert ev("args.count", args={"count": 3}) == 3
    assert ev("[10, 20][1]") == 20


def test_now_is_the_clock_as_iso_text() -> None:
    assert ev("now") == "2025-06-04T09:00:00"
    assert ev("now < record['check-in']") is True
    # A caller may bind `now` itself; then that value wins.
    assert ev("now", now="2030-01-01") == "2030-01-01"


def test_results_are_copies_of_the_callers_objects() -> None:
    tags: list[JsonValue] = ["quiet"]
    record: dict[str, JsonValue] = {"tags": tags, "guest": {"name": "Ada"}}
    expression = compile_expression("record", names={"record"})
    result = expression.evaluate(Scope(variables={"record": record}))
    assert result == record
    assert isinstance(result, dict)
    result["guest"]["name"] = "Eve"  # type: ignore[index, call-overload]
    result["tags"].append("late")  # type: ignore[union-attr]
    assert record == {"tags": ["quiet"], "guest": {"name": "Ada"}}


def test_holds_applies_the_truth_rule() -> None:
    scope = Scope(variables={"x": 0})
    assert compile_expression("x + 1", names={"x"}).holds(scope) is True
    assert compile_expression("x", names={"x"}).holds(scope) is False


def error(source: str, **variables: JsonValue) -> ExpressionEvaluationError:
    with pytest.raises(ExpressionEvaluationError) as caught:
        ev(source, **variables)
    assert caught.value.source == source
    return caught.value


@pytest.mark.parametrize(
    ("source", "offset", "message"),
    [
        ("record.cribs + count <= 'three'", 21, "cannot compare integer 3 with string 'three'"),
        ("1 < null", 2, "cannot compare integer 1 with null"),
        ("true < false", 5, "cannot compare boolean true with boolean false"),
        ("[1] < [2]", 4, "cannot compare list [1] with list [2]"),
        (
            "'a' + 1",
            4,
            "`+` needs two numbers, two strings or two lists, got string 'a' and integer 1",
        ),
        ("'n' + 1", 4, "str(x) makes text of a number"),
        ("true + 1", 5, "`+` needs two numbers, two strings or two lists, got boolean true"),
        ("[1] + 'a'", 4, "got list [1] and string 'a'"),
        ("'a' * 3", 4, "`*` needs two numbers, got string 'a' and integer 3"),
        ("null - 1", 5, "`-` needs two numbers, got null and integer 1"),
        ("count / 0", 6, "division by zero"),
        ("count / (count - 2)", 6, "division by zero: `count - 2` is 0"),
        ("count % 0.0", 6, "division by zero"),
        ("1e299 * 10", 6, "the result is too large"),
        ("-'a'", 0, "cannot negate string 'a'"),
        ("-true", 0, "cannot negate boolean true"),
        ("1 in 'abc'", 2, "`in` a string needs a string on its left, got integer 1"),
        ("1 in record", 2, "`in` a mapping's keys needs a string on its left"),
        ("'a' in null", 4, "`in` needs a string, list or mapping on its right, got null"),
        ("'a' not in 3", 4, "`in` needs a string, list or mapping on its right, got integer 3"),
        ("record.nope.deeper", 11, "`record.nope` is null, which has no field `deeper`"),
        ("record.cribs.x", 12, "`record.cribs` is integer 1, which has no field `x`"),
        ("record.tags.first", 11, "`record.tags` is list"),
        ("record.tags[2]", 11, "index 2 is out of range: `record.tags` has 2 items"),
        ("record.tags[-3]", 11, "index -3 is out of range"),
        ("record.tags['a']", 11, "an index must be an integer, not string 'a'"),
        ("record.tags[true]", 11, "an index must be an integer, not boolean true"),
        ("record.tags[1.0]", 11, "an index must be an integer, not number 1.0"),
        ("record[0]", 6, "a mapping's keys are strings, not integer 0"),
        ("count[0]", 5, "`count` is integer 2, which cannot be indexed"),
        ("unbound + 1", 0, "`unbound` has no value here"),
    ],
)
def test_runtime_errors(source: str, offset: int, message: str) -> None:
    caught = error(source, unbound=None) if "unbound" not in source else _unbound(source)
    assert caught.offset == offset
    assert message in caught.message


def _unbound(source: str) -> ExpressionEvaluationError:
    expression = compile_expression(source, names={"unbound"})
    with pytest.raises(ExpressionEvaluationError) as caught:
        expression.evaluate(Scope(variables={}))
    return caught.value


def test_long_values_are_shortened_in_messages() -> None:
    caught = error("x < 1", x="y" * 100)
    assert "string 'yyyyy" in caught.message
    assert "..." in caught.message
    assert len(caught.message) < 100


def test_numbers_stay_below_ten_to_the_300() -> None:
    big = "1" + "0" * 299
    assert evaluate(f"{big} + 1") == 10**299 + 1
    assert evaluate(f"{big} + 0.5") == 1e299
    for source in (f"{big} * 10", f"{big} * 10.0", "1e299 * 1e299", "-1e299 * 10"):
        with pytest.raises(ExpressionEvaluationError, match="the result is too large"):
            evaluate(source)


def test_now_without_a_clock_is_an_error() -> None:
    expression = compile_expression("hours_until('2025-06-05') + 1", names=())
    with pytest.raises(
        ExpressionEvaluationError, match="there is no clock; give the pack one with `clock:`"
    ):
        expression.evaluate(Scope(variables={}))
    expression = compile_expression("now", names={"now"})
    with pytest.raises(ExpressionEvaluationError, match="no clock") as caught:
        expression.evaluate(Scope(variables={}))
    assert caught.value.offset == 0
    assert (
        expression.evaluate(Scope(variables={}, now=datetime(2025, 1, 2))) == "2025-01-02T00:00:00"
    )
    assert NOW.isoformat() == ev("now")
