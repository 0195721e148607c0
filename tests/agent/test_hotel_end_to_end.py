"""The model card's scenario end to end: a scripted agent books the triplets' three cribs.

The user's lines are the task's own script and the agent's answers come from a script answered in
process (`_hotel_script`); its tool calls run against a real episode of the hotel pack, whose
database must end as the task's gold actions leave it.
"""

from __future__ import annotations

import pytest

from policy_agent.agent import Agent
from policy_agent.domain import DomainPack
from policy_agent.environment import Change, Environment
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
)
from tests.agent._hotel_script import AGENT_TURNS, STOP, Call, scripted


@pytest.mark.parametrize(
    ("transport", "style"), [("completions", "card"), ("chat", "card"), ("chat", "template")]
)
async def test_the_three_cribs_are_booked_end_to_end(
    models, make_agent, hotel: DomainPack, transport: str, style: str
) -> None:
    task = hotel.task("card_triplet_cribs")
    assert task.user_scenario.script is not None
    model = models([scripted(turn, transport, style) for turn in AGENT_TURNS])
    agent: Agent = make_agent(model, transport=transport, style=style, pack=hotel)
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
            history.append(result.record(call.call_id, call.name))

    calls = [(r.name, r.arguments) for r in history if isinstance(r, AgentToolCall)]
    assert calls == [(t.name, t.arguments) for t in AGENT_TURNS if isinstance(t, Call)]
    results = {r.name: r for r in history if isinstance(r, ToolResult)}
    assert not any(result.error for result in results.values())
    [cribs] = results["request_cribs"].changes
    assert [str(diff) for diff in Change.of_record(cribs).field_diff()] == ["cribs: 0 -> 3"]
    [move] = results["change_room"].changes
    assert [str(diff) for diff in Change.of_record(move).field_diff()] == [
        'room_id: "R0403" -> "R0412"'
    ]
    for assertion in task.evaluation_criteria.env_assertions:
        assert episode.evaluate_assertion(assertion), assertion.message
    gold = environment.replay(task.evaluation_criteria.actions)
    assert episode.content_hash() == gold.content_hash()
    assert len(model.requests) == len(AGENT_TURNS)
