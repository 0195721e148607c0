"""Declarative ops: each op type, preconditions, error templates, ids, `returns`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import JsonValue

from policy_agent.domain import DomainPack, PythonImplementation, ToolSpec
from policy_agent.environment import (
    Database,
    DeclarativeTool,
    Environment,
    EpisodeEnvironment,
    ToolDefinitionError,
    ToolOutcome,
    expression_names,
    next_id,
)


def _record(result: ToolOutcome) -> dict[str, JsonValue]:
    assert isinstance(result.value, dict), result.content
    return result.value


def test_get_returns_the_record_with_its_id_first(episode: EpisodeEnvironment) -> None:
    result = episode.call("get_booking_details", {"booking_id": "B11246"})
    assert result.content == (
        '{"id": "B11246", "guest_id": "G1", "status": "confirmed", "cribs": 1, '
        '"check_in": "2025-06-10", "price": 450}'
    )
    assert not result.error and result.changes == ()


def test_get_of_an_unknown_id_is_an_error(episode: EpisodeEnvironment) -> None:
    result = episode.call("get_booking_details", {"booking_id": "B999"})
    assert (result.content, result.error, result.crashed) == (
        "Error: Booking B999 not found",
        True,
        False,
    )


def test_find_matches_and_projects_fields(episode: EpisodeEnvironment) -> None:
    found = episode.call("find_guest_bookings", {"guest_id": "G1"})
    assert json.loads(found.content) == [
        {"id": "B11245", "status": "cancelled", "check_in": "2025-06-10"},
        {"id": "B11246", "status": "confirmed", "check_in": "2025-06-10"},
    ]
    assert episode.call("find_guest_bookings", {"guest_id": "G9"}).content == "[]"


def test_list_returns_every_record_in_id_order(episode: EpisodeEnvironment) -> None:
    assert json.loads(episode.call("list_rooms", {}).content) == [
        {"id": "C009", "kind": "double"},
        {"id": "C010", "kind": "suite"},
    ]
    guests = json.loads(episode.call("list_guests", {}).content)
    assert guests[1] == {"id": "G2", "name": "Bo Chen", "email": "bo@example.com"}


_PAGED_LIST: dict[str, Any] = {
    "name": "list_bookings",
    "kind": "read",
    "parameters": {"after": {"type": "string", "default": ""}},
    "implementation": {
        "op": "list",
        "table": "bookings",
        "fields": ["status"],
        "limit": 2,
        "after": "after",
    },
}


def test_a_list_returns_a_page_and_after_the_last_id_the_next_one(make_pack: Any) -> None:
    episode = Environment.from_pack(make_pack([_PAGED_LIST])).new_episode()
    first = episode.call("list_bookings", {})
    assert first.value == [
        {"id": "B11245", "status": "cancelled"},
        {"id": "B11246", "status": "confirmed"},
    ]
    # The page starts after the id given, whether or not it still exists.
    episode.database.delete("bookings", "B11246")
    episode.database.insert("bookings", "B11246A", {"status": "new"})
    second = episode.call("list_bookings", {"after": "B11246"})
    assert second.value == [
        {"id": "B11246A", "status": "new"},
        {"id": "B11247X", "status": "confirmed"},
    ]
    assert episode.call("list_bookings", {"after": "B11247X"}).value == []


def test_a_list_without_a_limit_returns_at_most_a_hundred_records(make_pack: Any) -> None:
    rooms = {f"R{n:03}": {"floor": n // 10} for n in range(250)}
    tool = {"name": "list_rooms", "implementation": {"op": "list", "table": "rooms"}}
    assert ToolSpec.model_validate(tool).implementation.limit == 100  # type: ignore[union-attr]
    pack = make_pack([tool], database={"rooms": rooms})
    listed = Environment.from_pack(pack).new_episode().call("list_rooms", {}).value
    assert isinstance(listed, list) and len(listed) == 100
    assert listed[-1] == {"id": "R099", "floor": 9}


def test_a_list_page_after_something_that_is_not_an_id_is_an_error(make_pack: Any) -> None:
    tool = {**_PAGED_LIST, "parameters": {"after": {"type": "array"}}}
    episode = Environment.from_pack(make_pack([tool])).new_episode()
    result = episode.call("list_bookings", {"after": ["B1"]})
    assert (result.error, result.crashed) == (True, False)
    assert result.content == "Error: list_bookings needs a record id, but its after gave ['B1']"


def test_create_with_a_prefix_takes_the_next_number_padded_like_the_others(
    episode: EpisodeEnvironment,
) -> None:
    booked = episode.call("book_room", {"guest_id": "G2", "check_in": "2025-07-01", "nights": 2})
    assert booked.value == {
        "id": "B11247",  # B11247X does not count: only the prefix followed by digits does
        "guest_id": "G2",
        "status": "confirmed",
        "cribs": 0,
        "check_in": "2025-07-01",
        "note": "none",  # the declared default
        "nights": 2,
    }
    assert [c.kind for c in booked.changes] == ["insert"]
    assert _record(episode.call("book_room", {"guest_id": "G2", "check_in": "x"}))["id"] == "B11248"
    assert _record(episode.call("add_room", {"kind": "suite"}))["id"] == "C011"
    assert episode.call("add_first_note", {"text": "hi"}).value == {"id": "N1", "text": "hi"}


def test_an_optional_argument_without_default_is_null(episode: EpisodeEnvironment) -> None:
    booked = episode.call("book_room", {"guest_id": "G1", "check_in": "x", "note": "late"})
    assert _record(booked)["nights"] is None and _record(booked)["note"] == "late"


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["B11246"], "B11247"),
        (["C009", "C001"], "C010"),
        (["B7", "B007"], "B008"),
        (["B99"], "B100"),
        (["X1", "B", "Bx2"], "B1"),
        ([], "B1"),
    ],
)
def test_next_id(ids: list[str], expected: str) -> None:
    database = Database({"t": {i: {} for i in ids}})
    assert next_id(database, "t", "B" if not expected.startswith("C") else "C") == expected


def test_next_id_counts_the_episodes_own_ids_and_not_those_it_removed() -> None:
    database = Database({"t": {"B0007": {}, "B0012": {}, "B9": {}}}).fresh()
    assert next_id(database, "t", "B") == "B0013"
    database.delete("t", "B0012")
    assert next_id(database, "t", "B") == "B10"
    database.insert("t", "B0042", {})
    assert next_id(database, "t", "B") == "B0043"
    database.delete("t", "B0042")
    database.delete("t", "B9")
    assert next_id(database, "t", "B") == "B0008"


def test_create_with_an_id_expression_and_a_returns(episode: EpisodeEnvironment) -> None:
    noted = episode.call("add_note", {"booking_id": "B11246", "text": "crib by the window"})
    assert noted.content == "Noted on B11246."  # a string result is not JSON-quoted
    assert episode.database.get("notes", "N-B11246") == {
        "text": "crib by the window",
        "at": "2025-06-04T09:00:00",
    }
    again = episode.call("add_note", {"booking_id": "B11246", "text": "again"})
    assert again.content == "Error: Note N-B11246 already exists"


def test_a_failing_precondition_renders_its_error(episode: EpisodeEnvironment) -> None:
    result = episode.call("book_room", {"guest_id": "G9", "check_in": "x"})
    assert result.content == "Error: Guest G9 not found."
    assert not result.crashed
    assert episode.database.ids("bookings") == ["B11245", "B11246", "B11247X"]


@pytest.mark.parametrize(
    ("arguments", "content"),
    [
        (
            {"booking_id": "B11245", "count": 9},
            "Error: Booking B11245 is cancelled; only confirmed bookings can be changed.",
        ),
        (
            {"booking_id": "B11246", "count": 3},
            "Error: At most 3 cribs per room; booking B11246 already has 1.",
        ),
        (
            {"booking_id": "B11247X", "count": 1},
            "Error: Cribs must be requested at least 24 hours before check-in.",
        ),
    ],
)
def test_preconditions_are_checked_in_order(
    episode: EpisodeEnvironment, arguments: dict[str, JsonValue], content: str
) -> None:
    result = episode.call("request_cribs", arguments)
    assert (result.content, result.error) == (content, True)
    assert episode.database.changes == ()


def test_update_when_every_precondition_holds(episode: EpisodeEnvironment) -> None:
    result = episode.call("request_cribs", {"booking_id": "B11246", "count": 2})
    assert _record(result)["cribs"] == 3
    (change,) = result.changes
    assert [str(d) for d in change.field_diff()] == ["cribs: 1 -> 3"]


def test_update_evaluates_every_value_against_the_record_before_it(
    episode: EpisodeEnvironment,
) -> None:
    result = episode.call("reprice", {"booking_id": "B11246"})
    assert (_record(result)["price"], _record(result)["cribs"]) == (10, 4.5)


def test_update_with_returns_sees_the_record(episode: EpisodeEnvironment) -> None:
    result = episode.call("cancel_booking", {"booking_id": "B11246"})
    assert result.content == "Booking B11246 cancelled."
    assert episode.database.get("bookings", "B11246")["status"] == "cancelled"


def test_delete_returns_the_removed_record(episode: EpisodeEnvironment, pack: DomainPack) -> None:
    result = episode.call("delete_booking", {"booking_id": "B11245"})
    assert result.value == {"id": "B11245", **pack.database["bookings"]["B11245"]}
    assert episode.call("delete_booking", {"booking_id": "B11245"}).content == (
        "Error: Booking B11245 not found"
    )


def test_respond_returns_an_empty_string_or_its_returns(episode: EpisodeEnvironment) -> None:
    assert episode.call("think", {"thought": "hmm"}).content == ""
    # `args` is the built-in mapping even when a parameter is called `args`.
    assert episode.call("total", {"prices": [1, 2.5]}).content == "[3.5, 2]"


def test_a_failing_expression_is_a_crash_and_writes_nothing(episode: EpisodeEnvironment) -> None:
    result = episode.call("divide_price", {"booking_id": "B11246", "by": 0})
    assert result.error and result.crashed
    assert result.content.startswith("Error: ") and "zero" in result.content
    assert result.detail is not None and "record.price / by" in result.detail
    assert episode.database.changes == ()


def test_names_bound_per_op(pack: DomainPack) -> None:
    assert expression_names(pack.tool("request_cribs")) == {
        "booking_id",
        "count",
        "args",
        "now",
        "record",
    }
    assert expression_names(pack.tool("book_room")) == {
        "guest_id",
        "check_in",
        "note",
        "nights",
        "args",
        "now",
    }


def _tool(implementation: dict[str, Any]) -> ToolSpec:
    return ToolSpec.model_validate(
        {
            "name": "broken",
            "parameters": {"x": {"type": "string"}},
            "implementation": implementation,
        }
    )


@pytest.mark.parametrize(
    ("implementation", "where"),
    [
        ({"op": "get", "table": "t", "key": "record.id"}, "implementation.key"),
        (
            {"op": "create", "table": "t", "id": "x", "values": {"a": "record.a"}},
            "implementation.values.a",
        ),
        (
            {
                "op": "update",
                "table": "t",
                "key": "x",
                "preconditions": [{"check": "true", "error": "no {y}"}],
                "set": {},
            },
            "implementation.preconditions[0].error",
        ),
        ({"op": "respond", "returns": "x +"}, "implementation.returns"),
        ({"op": "find", "table": "t", "match": {"a": "nope(x)"}}, "implementation.match.a"),
    ],
)
def test_a_bad_expression_fails_when_the_tool_is_compiled(
    implementation: dict[str, Any], where: str
) -> None:
    tool = _tool(implementation)
    assert not isinstance(tool.implementation, PythonImplementation)
    with pytest.raises(ToolDefinitionError, match=rf"^tool broken: {re.escape(where)}: ") as error:
        DeclarativeTool(tool, tool.implementation, now=None)
    assert "^" in str(error.value)  # the expression error's caret shows where
