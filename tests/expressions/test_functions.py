"""The built-in functions, their results and their errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import JsonValue

from policy_agent.expressions import (
    FUNCTIONS,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    Scope,
    compile_expression,
)

from ._support import evaluate as ev
from ._support import hotel


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("len('abc')", 3),
        ("len([1, 2])", 2),
        ("len(lookup('guests', 'G1'))", 3),
        ("len('')", 0),
        ("sum([1, 2, 3])", 6),
        ("sum([1, 2.5])", 3.5),
        ("sum([])", 0),
        ("min([3, 1.5, 2])", 1.5),
        ("max([3, 1.5, 2])", 3),
        ("min(['b', 'a'])", "a"),
        ("max(['2025-06-10', '2025-06-04'])", "2025-06-10"),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(2.4)", 2),
        ("round(2.675, 2)", 2.68),
        ("round(1.005, 2)", 1.01),
        ("round(0.125, 2)", 0.13),
        ("round(2.5, 0)", 3.0),
        ("round(1234.5678, -2)", 1200.0),
        ("round(7)", 7),
        ("round(7, 2)", 7),
        ("round(1250, -2)", 1300),
        ("round(-1250, -2)", -1300),
        ("round(1249, -2)", 1200),
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("str('x')", "x"),
        ("str(3)", "3"),
        ("str(2.5)", "2.5"),
        ("str(true)", "true"),
        ("str(null)", "null"),
        ("str([1, 'a'])", '[1, "a"]'),
        ("str(lookup('guests', 'G2'))", '{"id": "G2", "name": "Bo", "vip": false}'),
        ("int(2.9)", 2),
        ("int(-2.9)", -2),
        ("int(' 42 ')", 42),
        ("int('-7')", -7),
        ("int(5)", 5),
        ("float(2)", 2.0),
        ("float('2.5')", 2.5),
        ("float('.5')", 0.5),
        ("float('1e3')", 1000.0),
        ("if(true, 'a', 'b')", "a"),
        ("if(0, 'a', 'b')", "b"),
        ("if(null, 1, [2])", [2]),
    ],
)
def test_results(source: str, value: JsonValue) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


def test_if_evaluates_only_the_chosen_branch() -> None:
    assert ev("if(x > 0, 10 / x, 0)", x=0) == 0
    assert ev("if(x > 0, 10 / x, 0)", x=5) == 2
    with pytest.raises(ExpressionEvaluationError, match="division by zero"):
        ev("if(x == 0, 10 / x, 0)", x=0)


def test_pluck() -> None:
    assert ev("pluck(find('bookings', 'guest', 'G1'), 'status')") == ["confirmed", "confirmed"]
    assert ev("pluck(xs, 'a')", xs=[{"a": 1}, {"b": 2}]) == [1, None]
    assert ev("pluck([], 'a')") == []


def test_lookup_and_exists() -> None:
    assert ev("lookup('guests', 'G1')") == {"id": "G1", "name": "Ada", "vip": True}
    assert ev("lookup('guests', 'G9')") is None
    assert ev("lookup('guests', 'G1').name") == "Ada"
    assert ev("exists('bookings', 'B11246')") is True
    assert ev("exists('bookings', 'B99999')") is False
    assert ev("lookup('bookings', record_id).cribs", record_id="B11248") == 2


def test_find_and_count() -> None:
    found = ev("find('bookings', 'status', 'confirmed')")
    assert isinstance(found, list)
    assert [r["id"] for r in found] == ["B11246", "B11248"]  # type: ignore[index, call-overload]
    assert ev("find('bookings', 'status', 'pending')") == []
    assert ev("count('bookings', 'guest', 'G1')") == 2
    assert ev("count('bookings', 'cribs', 1.0)") == 1
    assert ev("count('bookings', 'id', 'B11247')") == 1
    assert ev("count('bookings', 'nope', null)") == 3
    assert ev("count('guests', 'vip', 1)") == 0  # true is not 1


def test_records_handed_out_are_copies_and_the_database_is_untouched() -> None:
    tables = hotel()
    before = repr(tables.tables)
    scope = Scope(variables={}, tables=tables)
    record = compile_expression("lookup('guests', 'G1')", names=()).evaluate(scope)
    assert isinstance(record, dict)
    record["name"] = "Eve"
    found = compile_expression("find('guests', 'vip', true)", names=()).evaluate(scope)
    found[0]["vip"] = False  # type: ignore[index, call-overload]
    assert repr(tables.tables) == before


def test_a_record_with_its_own_id_field_shows_the_real_id() -> None:
    tables = hotel()
    tables.tables["guests"]["G3"] = {"id": "stale", "name": "Cy"}
    assert ev("lookup('guests', 'G3')", tables) == {"id": "G3", "name": "Cy"}


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("hours_until('2025-06-05T09:00:00')", 24.0),
        ("hours_until('2025-06-05')", 15.0),
        ("hours_until('2025-06-04 08:30')", -0.5),
        ("days_until('2025-06-10')", 5.625),
        ("days_until(now)", 0.0),
        ("hours_between('2025-06-01', '2025-06-02T06:00')", 30.0),
        ("days_between('2025-06-10', '2025-06-01')", -9.0),
        ("days_between('2025-06-01T00:00:00+02:00', '2025-06-01T12:00:00Z')", 0.5833333333333334),
        ("hours_until(lookup('bookings', 'B11248').check_in) >= 24", True),
    ],
)
def test_time(source: str, value: JsonValue) -> None:
    result = ev(source)
    assert result == value
    assert type(result) is type(value)


def test_time_with_an_offset_clock() -> None:
    expression = compile_expression("hours_until('2025-06-04T12:00:00+00:00')", names=())
    scope = Scope(variables={}, now=datetime(2025, 6, 4, 9, tzinfo=UTC))
    assert expression.evaluate(scope) == 3.0


def fails(source: str, tables: bool = True, **variables: JsonValue) -> ExpressionEvaluationError:
    expression = compile_expression(source, names=variables.keys())
    scope = Scope(
        variables=variables, tables=hotel() if tables else None, now=datetime(2025, 6, 4, 9)
    )
    with pytest.raises(ExpressionEvaluationError) as caught:
        expression.evaluate(scope)
    return caught.value


@pytest.mark.parametrize(
    ("source", "offset", "message"),
    [
        ("len(3)", 4, "len() needs a string, list or mapping, got integer 3"),
        ("len(null)", 4, "got null"),
        ("sum([1, 'a'])", 4, "sum() needs a list of numbers, found string 'a'"),
        ("sum([true])", 4, "found boolean true"),
        ("sum('abc')", 4, "sum() needs a list, got string 'abc'"),
        ("min([])", 4, "min() of an empty list"),
        ("max([1, 'a'])", 0, "cannot compare string 'a' with integer 1"),
        ("max(3)", 4, "max() needs a list, got integer 3"),
        ("round('1')", 6, "round() needs a number, got string '1'"),
        ("round(1.5, 0.5)", 11, "round() needs digits from -15 to 15, got number 0.5"),
        ("round(1.5, 16)", 11, "got integer 16"),
        ("round(true)", 6, "round() needs a number, got boolean true"),
        ("abs('x')", 4, "abs() needs a number"),
        ("lower(1)", 6, "lower() needs a string, got integer 1"),
        ("upper(null)", 6, "upper() needs a string, got null"),
        ("int('4.2')", 4, "int() cannot convert string '4.2'"),
        ("int('1_000')", 4, "int() cannot convert"),
        ("int(true)", 4, "int() cannot convert boolean true"),
        ("int(null)", 4, "int() cannot convert null"),
        ("float('nan')", 6, "float() cannot convert string 'nan'"),
        ("float('inf')", 6, "float() cannot convert"),
        ("float('1e400')", 0, "the result is too large"),
        ("float([])", 6, "float() cannot convert list []"),
        ("pluck([1], 'a')", 6, "pluck() needs a list of mappings, found integer 1"),
        ("matches(1, 'a')", 8, "matches() needs a string, got integer 1"),
        ("pluck([], 1)", 10, "pluck() needs a string, got integer 1"),
        ("lookup('nope', 'x')", 7, "there is no table 'nope'"),
        ("lookup(1, 'x')", 7, "lookup() needs a string, got integer 1"),
        ("lookup('guests', 1)", 17, "lookup() needs a string, got integer 1"),
        ("exists('guests', null)", 17, "exists() needs a string, got null"),
        ("find('nope', 'a', 1)", 5, "there is no table 'nope'"),
        ("count('guests', 3, 1)", 16, "count() needs a string, got integer 3"),
        ("hours_until('junk')", 12, "needs an ISO-8601 date or time such as '2025-06-04T09:00:00'"),
        ("hours_until(20250604)", 12, "hours_until() needs a string, got integer 20250604"),
        ("days_between('2025-06-01', '06/10/2025')", 27, "got '06/10/2025'"),
        ("hours_between('2025-06-01T00:00Z', '2025-06-02')", 0, "mixes a time with a UTC offset"),
        ("hours_until('2025-06-05T00:00+01:00')", 0, "mixes a time with a UTC offset"),
    ],
)
def test_errors(source: str, offset: int, message: str) -> None:
    caught = fails(source)
    assert message in caught.message
    assert caught.offset == offset


@pytest.mark.parametrize(
    ("text", "pattern", "value"),
    [
        ("B12345", "B[0-9]{5}", True),
        ("B1234", "B[0-9]{5}", False),
        ("xB12345", "B[0-9]{5}", False),
        ("Call B12345 now", ".*B[0-9]{5}.*", True),
        ("ADA@Example.com", "(?i)[a-z]+@example\\.com", True),
        ("", "", True),
    ],
)
def test_matches_tests_the_whole_text(text: str, pattern: str, value: bool) -> None:
    assert ev("matches(text, pattern)", text=text, pattern=pattern) is value


def test_matches_takes_linear_time_where_a_backtracking_engine_would_hang() -> None:
    # `(a+)+$` on a's then a b backtracks exponentially in Python's `re`: 2^40 steps here.
    assert ev("matches(text, '(a+)+')", text="a" * 40 + "b") is False


def test_matches_refuses_a_computed_bad_pattern_and_a_text_too_long() -> None:
    caught = fails("matches('a', p)", p="(?=a)")
    assert (caught.message, caught.offset) == (
        "not a pattern matches() can use: invalid perl operator: (?=",
        13,
    )
    caught = fails("matches(text, 'a*')", text="a" * 100_001)
    assert (caught.message, caught.offset) == (
        "the text has 100,001 characters; matches() takes 100,000",
        8,
    )


def test_a_bad_literal_pattern_is_refused_when_the_expression_compiles() -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression("matches(x, '(a)\\\\1')", names=["x"])
    assert caught.value.message == ("not a pattern matches() can use: invalid escape sequence: \\1")
    assert caught.value.offset == 11
    too_long = "a" * 1001
    with pytest.raises(ExpressionSyntaxError, match="the pattern has 1,001 characters"):
        compile_expression(f"matches(x, '{too_long}')", names=["x"])
    with pytest.raises(ExpressionSyntaxError, match="pattern too large"):
        compile_expression("matches(x, '(\\\\pL{1000})')", names=["x"])


def test_argument_errors_point_at_the_start_of_the_argument() -> None:
    caught = fails("lower(record.cribs + 1)", record={"cribs": 1})
    assert caught.offset == 6


def test_database_functions_without_a_database() -> None:
    for source in (
        "lookup('guests', 'G1')",
        "exists('g', 'x')",
        "find('g', 'a', 1)",
        "count('g', 'a', 1)",
    ):
        caught = fails(source, tables=False)
        assert "has no database to read here" in caught.message
        assert caught.offset == 0


def test_every_function_is_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "expressions.md").read_text(encoding="utf-8")
    for name in FUNCTIONS:
        assert f"`{name}(" in text, f"{name} is missing from docs/expressions.md"
