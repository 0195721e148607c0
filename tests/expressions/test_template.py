"""Message templates: placeholders, brace escapes, value rendering and errors."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from policy_agent.expressions import (
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    Scope,
    compile_template,
)

from ._support import NOW, hotel

VARIABLES: dict[str, JsonValue] = {
    "booking_id": "B11246",
    "record": {"status": "confirmed", "cribs": 1, "rate": 120.0, "tags": ["quiet"]},
    "count": 2,
}


def render(source: str) -> str:
    template = compile_template(source, names=VARIABLES.keys() | {"now"})
    return template.render(Scope(variables=VARIABLES, tables=hotel(), now=NOW))


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("No placeholders.", "No placeholders."),
        ("", ""),
        ("Booking {booking_id} is {record.status}.", "Booking B11246 is confirmed."),
        ("{booking_id}", "B11246"),
        ("{count}{count}", "22"),
        ("{ record.cribs + count }", "3"),
        ("rate {record.rate}, half {record.rate / 2}", "rate 120.0, half 60.0"),
        ("{record.tags} {null} {true} {[1, 'ü']}", '["quiet"] null true [1, "ü"]'),
        ("{lookup('guests', 'G2')}", '{"id": "G2", "name": "Bo", "vip": false}'),
        ("{{literal}} and }} and {{{count}}}", "{literal} and } and {2}"),
        ("{'}' + \"{\"}", "}{"),
        ("{if(count > 1, 'cribs', 'crib')}", "cribs"),
        ("It is {now}.", "It is 2025-06-04T09:00:00."),
        ("line one\n{count}\n", "line one\n2\n"),
    ],
)
def test_render(source: str, text: str) -> None:
    assert render(source) == text


def test_usage() -> None:
    template = compile_template(
        "{booking_id}: {count('bookings', 'guest', 'G1')} {exists('guests', record.guest)}",
        names={"booking_id", "record"},
    )
    assert template.names_used == {"booking_id", "record"}
    assert template.tables_used == {"bookings", "guests"}
    assert template.source.startswith("{booking_id}")


@pytest.mark.parametrize(
    ("source", "offset", "message"),
    [
        ("Booking {booking_id", 8, "`{` is never closed; write `{{` for a brace"),
        ("Booking {'}", 9, "string never closed"),
        ("a } b", 2, "a single `}`; write `}}` for a brace"),
        ("empty {} here", 7, "the expression is empty"),
        ("blank {  } here", 9, "the expression is empty"),
        ("{booking}", 1, "unknown name `booking`; did you mean `booking_id`?"),
        ("x {count +} y", 10, "the expression ends too early"),
        ("x {count count} y", 9, "expected an operator or the end, found `count`"),
        ("{ {count} }", 2, "unexpected character '{'"),
        ("{len(1, 2)}", 1, "len() takes 1 argument, got 2"),
    ],
)
def test_syntax_errors_point_into_the_template(source: str, offset: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_template(source, names=VARIABLES.keys())
    assert message in caught.value.message
    assert caught.value.offset == offset
    assert caught.value.source == source


def test_evaluation_errors_point_into_the_template() -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        render("Booking {booking_id} has {record.cribs / (count - 2)} cribs")
    assert caught.value.offset == 39
    assert caught.value.message == "division by zero: `count - 2` is 0"
