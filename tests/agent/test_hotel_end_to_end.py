"""The model card's scenario end to end: a scripted agent books the triplets' three cribs.

The user's lines are the task's own script; the agent's answers come from the scripted server
in the shape each transport and style receives them; its tool calls run against a real episode
of the hotel pack, whose database must end as the task's gold actions leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import JsonValue

from policy_agent.agent import Agent
from policy_agent.conversation import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
)
from policy_agent.domain import DomainPack
from policy_agent.environment import Environment
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


@pytest.mark.parametrize(
    ("transport", "style"), [("completions", "card"), ("chat", "card"), ("chat", "template")]
)
async def test_the_three_cribs_are_booked_end_to_end(
    serve, make_agent, hotel: DomainPack, transport: str, style: str
) -> None:
    task = hotel.task("card_triplet_cribs")
    assert task.user_scenario.script is not None
    server = await serve([scripted(turn, transport, style) for turn in AGENT_TURNS])
    agent: Agent = make_agent(server, transport=transport, style=style, pack=hotel)
    environment = Environment.from_pack(hotel)
    episode = environment.new_episode()
    history: list[ConversationRecord] = []

    for line in task.user_scenario.script:
        history.append(UserMessage(content=line))
        if STOP in line:
            break
        while True:
            step = await agent.act(history, seed=42)
            assert step.events == ()
            assert step.record is not None
            history.append(step.record)
            if isinstance(step.record, AgentMessage):
                break
            call = step.record
            result = episode.call(call.name, call.arguments)
            history.append(ToolResult.of(call.call_id, call.name, result))

    calls = [(r.name, r.arguments) for r in history if isinstance(r, AgentToolCall)]
    assert calls == [(t.name, t.arguments) for t in AGENT_TURNS if isinstance(t, Call)]
    results = {r.name: r for r in history if isinstance(r, ToolResult)}
    assert not any(result.error for result in results.values())
    [cribs] = results["request_cribs"].changes
    assert [str(diff) for diff in cribs.change().field_diff()] == ["cribs: 0 -> 3"]
    [move] = results["change_room"].changes
    assert [str(diff) for diff in move.change().field_diff()] == ['room_id: "R0403" -> "R0412"']
    for assertion in task.evaluation_criteria.env_assertions:
        assert episode.evaluate_assertion(assertion), assertion.message
    gold = environment.replay(task.evaluation_criteria.actions)
    assert episode.content_hash() == gold.content_hash()
    assert len(server.requests) == len(AGENT_TURNS)
