"""A small hotel pack built in code, so that these tests do not depend on the YAML loader."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from policy_agent.domain import DomainPack, ToolSpec
from policy_agent.environment import Environment, EpisodeEnvironment

FIXTURES = Path(__file__).parent / "fixtures"

DATABASE: dict[str, dict[str, dict[str, JsonValue]]] = {
    "guests": {
        "G1": {"name": "Ana Lee", "email": "ana@example.com"},
        "G2": {"name": "Bo Chen", "email": "bo@example.com"},
    },
    "bookings": {
        "B11245": {
            "guest_id": "G1",
            "status": "cancelled",
            "cribs": 0,
            "check_in": "2025-06-10",
            "price": 300,
        },
        "B11246": {
            "guest_id": "G1",
            "status": "confirmed",
            "cribs": 1,
            "check_in": "2025-06-10",
            "price": 450,
        },
        "B11247X": {
            "guest_id": "G2",
            "status": "confirmed",
            "cribs": 0,
            "check_in": "2025-06-04T20:00:00",
            "price": 200,
        },
    },
    "rooms": {"C009": {"kind": "double", "floor": 1}, "C010": {"kind": "suite", "floor": 2}},
    "notes": {},
}
USER_DATABASE: dict[str, dict[str, dict[str, JsonValue]]] = {
    "phone": {"main": {"airplane_mode": False, "signal": "good"}},
}

BOOKING_ID = {"type": "string", "description": "The booking, such as 'B11246'."}

TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_booking_details",
        "kind": "read",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"op": "get", "table": "bookings", "key": "booking_id"},
    },
    {
        "name": "find_guest_bookings",
        "kind": "read",
        "parameters": {"guest_id": {"type": "string"}},
        "implementation": {
            "op": "find",
            "table": "bookings",
            "match": {"guest_id": "guest_id"},
            "fields": ["status", "check_in"],
        },
    },
    {
        "name": "list_rooms",
        "kind": "read",
        "implementation": {"op": "list", "table": "rooms", "fields": ["kind"]},
    },
    {
        "name": "list_guests",
        "kind": "read",
        "implementation": {"op": "list", "table": "guests"},
    },
    {
        "name": "book_room",
        "kind": "write",
        "parameters": {
            "guest_id": {"type": "string"},
            "check_in": {"type": "string"},
            "note": {"type": "string", "default": "none"},
            "nights": {"type": "integer"},
        },
        "required": ["guest_id", "check_in"],
        "implementation": {
            "op": "create",
            "table": "bookings",
            "id_prefix": "B",
            "preconditions": [
                {"check": "exists('guests', guest_id)", "error": "Guest {guest_id} not found."}
            ],
            "values": {
                "guest_id": "guest_id",
                "status": "'confirmed'",
                "cribs": "0",
                "check_in": "check_in",
                "note": "note",
                "nights": "nights",
            },
        },
    },
    {
        "name": "add_room",
        "kind": "write",
        "parameters": {"kind": {"type": "string", "enum": ["double", "suite"]}},
        "implementation": {
            "op": "create",
            "table": "rooms",
            "id_prefix": "C",
            "values": {"kind": "kind", "floor": "1"},
        },
    },
    {
        "name": "add_note",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID, "text": {"type": "string"}},
        "implementation": {
            "op": "create",
            "table": "notes",
            "id": "'N-' + booking_id",
            "values": {"text": "text", "at": "now"},
            "returns": "'Noted on ' + booking_id + '.'",
        },
    },
    {
        "name": "add_first_note",
        "kind": "write",
        "parameters": {"text": {"type": "string"}},
        "implementation": {
            "op": "create",
            "table": "notes",
            "id_prefix": "N",
            "values": {"text": "text"},
        },
    },
    {
        "name": "request_cribs",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID, "count": {"type": "integer"}},
        "implementation": {
            "op": "update",
            "table": "bookings",
            "key": "booking_id",
            "preconditions": [
                {
                    "check": "record.status == 'confirmed'",
                    "error": "Booking {booking_id} is {record.status}; "
                    "only confirmed bookings can be changed.",
                },
                {
                    "check": "record.cribs + count <= 3",
                    "error": "At most 3 cribs per room; booking {booking_id} "
                    "already has {record.cribs}.",
                },
                {
                    "check": "hours_until(record.check_in) >= 24",
                    "error": "Cribs must be requested at least 24 hours before check-in.",
                },
            ],
            "set": {"cribs": "record.cribs + count"},
        },
    },
    {
        "name": "reprice",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {
            "op": "update",
            "table": "bookings",
            "key": "booking_id",
            "set": {"price": "record.cribs * 10", "cribs": "record.price / 100"},
        },
    },
    {
        "name": "divide_price",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID, "by": {"type": "number"}},
        "implementation": {
            "op": "update",
            "table": "bookings",
            "key": "booking_id",
            "set": {"price": "record.price / by"},
        },
    },
    {
        "name": "cancel_booking",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {
            "op": "update",
            "table": "bookings",
            "key": "booking_id",
            "set": {"status": "'cancelled'"},
            "returns": "'Booking ' + record.id + ' cancelled.'",
        },
    },
    {
        "name": "delete_booking",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"op": "delete", "table": "bookings", "key": "booking_id"},
    },
    {
        "name": "think",
        "kind": "think",
        "parameters": {"thought": {"type": "string"}},
        "implementation": {"op": "respond"},
    },
    {
        "name": "total",
        "kind": "generic",
        "parameters": {
            "prices": {"type": "array", "items": {"type": "number"}},
            "args": {"type": "string", "default": "shadowed"},
        },
        "implementation": {"op": "respond", "returns": "[sum(prices), len(args)]"},
    },
    {
        "name": "late_checkout",
        "kind": "write",
        "parameters": {
            "booking_id": BOOKING_ID,
            "hour": {"type": "integer", "default": 13},
        },
        "implementation": {"python": "tools/hotel.py:late_checkout"},
    },
    {
        "name": "refuse_after_writing",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"python": "tools/hotel.py:refuse_after_writing"},
    },
    {
        "name": "crash_after_writing",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"python": "tools/hotel.py:crash_after_writing"},
    },
    {"name": "not_json", "implementation": {"python": "tools/hotel.py:not_json"}},
    {
        "name": "greet",
        "parameters": {"name": {"type": "string"}},
        "implementation": {"python": "tools/hotel.py:greet"},
    },
    {
        "name": "booking_as_stored",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"python": "tools/hotel.py:booking_as_stored"},
    },
    {
        "name": "change_a_record_in_place",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"python": "tools/hotel.py:change_a_record_in_place"},
    },
    {
        "name": "cancel_when_released",
        "kind": "write",
        "parameters": {"booking_id": BOOKING_ID},
        "implementation": {"python": "tools/hotel.py:cancel_when_released"},
    },
]
USER_TOOLS: list[dict[str, Any]] = [
    {
        "name": "check_phone",
        "kind": "read",
        "implementation": {"op": "get", "table": "phone", "key": "'main'"},
    },
    {
        "name": "toggle_airplane_mode",
        "kind": "write",
        "implementation": {
            "op": "update",
            "table": "phone",
            "key": "'main'",
            "set": {"airplane_mode": "not record.airplane_mode"},
        },
    },
]


def _make_pack(
    tools: list[dict[str, Any]] | None = None,
    *,
    repository: Path = FIXTURES,
    clock: str | None = "2025-06-04T09:00:00",
    database: dict[str, dict[str, dict[str, JsonValue]]] | None = None,
) -> DomainPack:
    """The hotel pack (or one with other tools), with fresh copies of its tables."""
    return DomainPack(
        root=repository,
        repository=repository,
        name="hotel",
        description="A hotel for tests.",
        version="0.1.0",
        policy="Be kind.",
        clock=clock,
        tools=tuple(ToolSpec.model_validate(t) for t in (TOOLS if tools is None else tools)),
        user_tools=tuple(ToolSpec.model_validate(t) for t in USER_TOOLS),
        database=copy.deepcopy(DATABASE if database is None else database),
        user_database=copy.deepcopy(USER_DATABASE),
    )


MakePack = Callable[..., DomainPack]


@pytest.fixture
def make_pack() -> MakePack:
    """Builds the hotel pack; keywords: tools, repository, clock, database."""
    return _make_pack


@pytest.fixture
def pack() -> DomainPack:
    return _make_pack()


@pytest.fixture
def episode(pack: DomainPack) -> EpisodeEnvironment:
    """A fresh episode of `pack`."""
    return Environment.from_pack(pack).new_episode()
