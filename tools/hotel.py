"""The hotel pack's two tools that need more than an expression: room availability over a stay.

A room is free for a booking when no other active booking (confirmed or checked in) holds it
for any of the same nights. Nights run from the check-in date up to, not including, the
check-out date, so a stay ending on the 5th and one starting on the 5th do not overlap. The
expression language has no loop over records, hence Python; every other hotel rule is a
precondition in `domains/hotel/tools.yaml`.
"""

from __future__ import annotations

from pydantic import JsonValue

from policy_agent.environment import Database, JsonRecord, ToolError

ACTIVE_STATUSES = ("confirmed", "checked_in")
"""Bookings in these statuses hold their room; cancelled and checked-out ones release it."""


def search_available_rooms(
    db: Database, booking_id: str, room_type: str | None = None
) -> list[JsonValue]:
    """The rooms of `room_type` (default: the booking's) free for every night of the booking."""
    booking = db.get("bookings", booking_id)
    wanted = room_type if room_type is not None else _text(booking, "room_type")
    if not db.exists("room_types", wanted):
        names = ", ".join(db.ids("room_types"))
        raise ToolError(f"There is no room type '{wanted}'; the room types are: {names}.")
    return [
        {
            "room_id": room_id,
            "room_type": wanted,
            "floor": room["floor"],
            "view": room["view"],
            "quiet": room["quiet"],
            "accessible": room["accessible"],
        }
        for room_id, room in db.find("rooms", room_type=wanted, out_of_service=False)
        if room_id != booking["room_id"] and _holder(db, room_id, booking_id, booking) is None
    ]


def change_room(db: Database, booking_id: str, room_id: str) -> JsonValue:
    """Move a confirmed booking to `room_id`, charging an upgrade at the difference in rates.

    The checks follow the policy's order of reasons, so the model is told the most relevant one:
    the booking, the room itself, who may have it, the room type, the party, then availability.
    """
    booking = db.get("bookings", booking_id)
    status = _text(booking, "status")
    if status != "confirmed":
        raise ToolError(
            f"Booking {booking_id} is {status}; only confirmed bookings can change rooms."
        )
    room = db.get("rooms", room_id)
    if room_id == booking["room_id"]:
        raise ToolError(f"Booking {booking_id} is already in room {room_id}.")
    if room["out_of_service"]:
        raise ToolError(f"Room {room_id} is out of service and cannot be assigned.")
    if room["quiet"] and not _may_have_quiet_room(db, booking):
        raise ToolError(
            f"Room {room_id} is a quiet room, reserved for bookings with an infant and for "
            f"Platinum guests; booking {booking_id} is neither."
        )
    old_type = db.get("room_types", _text(booking, "room_type"))
    new_type = db.get("room_types", _text(room, "room_type"))
    if _number(new_type, "rank") < _number(old_type, "rank"):
        raise ToolError(
            f"Room {room_id} is a {new_type['name']} room, lower than the booking's "
            f"{old_type['name']}; moving to a lower room type is not possible."
        )
    party = _number(booking, "adults") + _number(booking, "children")
    if party > _number(new_type, "max_occupancy"):
        raise ToolError(
            f"A {new_type['name']} room holds at most {new_type['max_occupancy']} adults and "
            f"children; booking {booking_id} has {party}."
        )
    if _number(booking, "cribs") > _number(new_type, "max_cribs"):
        raise ToolError(
            f"A {new_type['name']} room holds at most {new_type['max_cribs']} cribs; booking "
            f"{booking_id} has {booking['cribs']}."
        )
    if _holder(db, room_id, booking_id, booking) is not None:
        raise ToolError(
            f"Room {room_id} is already booked for some of the nights of booking {booking_id}."
        )
    difference = _number(new_type, "nightly_rate") - _number(old_type, "nightly_rate")
    charge = difference * _number(booking, "nights")
    updated = db.update(
        "bookings",
        booking_id,
        room_id=room_id,
        room_type=room["room_type"],
        nightly_rate=_number(booking, "nightly_rate") + difference,
        total_price=_number(booking, "total_price") + charge,
        amount_paid=_number(booking, "amount_paid") + charge,
    )
    return {"upgrade_charge": charge, "booking": {"id": booking_id, **updated}}


def _holder(db: Database, room_id: str, booking_id: str, booking: JsonRecord) -> str | None:
    """The id of another active booking holding `room_id` on one of `booking`'s nights, if any.

    It asks for the room's bookings in each active status, not for all of them: a hotel's
    past stays outnumber its active ones, and `find` reads only the records of its most
    selective field (docs/scale.md).
    """
    first, end = _date(booking, "check_in"), _date(booking, "check_out")
    for status in ACTIVE_STATUSES:
        for other_id, other in db.find("bookings", room_id=room_id, status=status):
            if other_id == booking_id:
                continue
            if _date(other, "check_in") < end and first < _date(other, "check_out"):
                return other_id
    return None


def _may_have_quiet_room(db: Database, booking: JsonRecord) -> bool:
    """Quiet rooms are for families with an infant and for Platinum guests (policy: Quiet rooms)."""
    if _number(booking, "infants") > 0:
        return True
    guest = db.get("guests", _text(booking, "guest_id"))
    return guest["loyalty_tier"] == "platinum"


def _date(record: JsonRecord, field: str) -> str:
    """The `YYYY-MM-DD` part of an ISO-8601 time field; such strings sort as dates do."""
    return _text(record, field)[:10]


def _text(record: JsonRecord, field: str) -> str:
    value = record[field]
    if not isinstance(value, str):
        raise TypeError(f"field {field!r} should be a string, got {value!r}")
    return value


def _number(record: JsonRecord, field: str) -> int:
    value = record[field]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"field {field!r} should be an integer, got {value!r}")
    return value
