"""The agent's side of the model card's scenario (`card_triplet_cribs`), for the scripted server.

The user's lines are the task's own script; these are the agent's answers to them, given in
the shape each transport and style receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from policy_agent.format import render_tool_call

STOP = "###STOP###"


@dataclass(frozen=True)
class Say:
    reasoning: str
    text: str


@dataclass(frozen=True)
class Call:
    reasoning: str
    name: str
    arguments: dict[str, JsonValue]


AGENT_TURNS: list[Say | Call] = [
    Say("The guest must be identified first.", "Happy to help. May I have your full name?"),
    Call(
        "Name given; check it against the guest record.",
        "get_guest_details",
        {"guest_id": "G90920"},
    ),
    Call("Elena Marsh matches. Now the booking.", "get_booking_details", {"booking_id": "B11246"}),
    Say(
        "Deluxe allows 3 cribs; check-in is 30 hours away, more than the 24 hours needed.",
        "Three cribs fit a Deluxe room and you are more than 24 hours ahead. Shall I add them?",
    ),
    Call("Confirmed by the guest.", "request_cribs", {"booking_id": "B11246", "count": 3}),
    Call("Now look for a quiet Deluxe room.", "search_available_rooms", {"booking_id": "B11246"}),
    Say(
        "R0412 is quiet and free for all three nights, same type: no charge.",
        "Done: three cribs are booked. Room 412 is quiet and free for your whole stay at no "
        "extra cost. Shall I move you there?",
    ),
    Call(
        "The guest accepts the move.", "change_room", {"booking_id": "B11246", "room_id": "R0412"}
    ),
    Say("Moved, no charge.", "You are now in room 412 with three cribs. Anything else?"),
]


def scripted(turn: Say | Call, transport: str, style: str) -> dict[str, Any]:
    """The server's answer for one agent turn, as that transport and style receive it."""
    if isinstance(turn, Say):
        if transport == "completions":
            return {"text": f"{turn.reasoning}</think>\n{turn.text}"}
        return {"reasoning": turn.reasoning, "content": turn.text}
    markup = render_tool_call(turn.name, turn.arguments).strip()
    if transport == "completions":
        return {"text": f"{turn.reasoning}</think>\n{markup}"}
    if style == "card":
        return {"reasoning": turn.reasoning, "content": markup}
    return {
        "reasoning": turn.reasoning,
        "tool_calls": [{"name": turn.name, "arguments": turn.arguments}],
    }
