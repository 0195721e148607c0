"""Episodes of tasks that start from an initial state: the history is played on, not again."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack, Task
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    TerminationReason,
    ToolResult,
    UserMessage,
)
from tests._models import ScriptedModels, request_bodies
from tests.simulation._support import call, model, say, sim_config, simulate

OPENING = "Hello, this is Daniel Okoro, guest ID G90974. I need to cancel booking B11319."
CRITERIA: dict[str, Any] = {
    "actions": [
        {"action_id": "cancel", "name": "cancel_booking", "arguments": {"booking_id": "B11319"}}
    ],
    "communicate_info": ["567"],
    "reward_basis": ["DB", "COMMUNICATE"],
}


def _task(task_id: str, initial_state: dict[str, Any], **scenario: Any) -> Task:
    return Task.model_validate(
        {
            "id": task_id,
            "user_scenario": {"instructions": "Cancel booking B11319."} | scenario,
            "initial_state": initial_state,
            "evaluation_criteria": CRITERIA,
        }
    )


def _with(hotel: DomainPack, *tasks: Task) -> DomainPack:
    return dataclasses.replace(hotel, tasks=tasks)


async def _run(
    pack: DomainPack, tmp_path: Path, models: ScriptedModels | None = None, **config: Any
) -> list[Episode]:
    _, episodes = await simulate(sim_config(out=str(tmp_path), **config), pack, models=models)
    return episodes


async def test_the_agent_moves_on_from_a_history_ending_with_its_own_call(
    hotel: DomainPack, tmp_path: Path
) -> None:
    history = [
        {"role": "user", "content": OPENING},
        {
            "role": "assistant",
            "tool_call": {"name": "get_guest_details", "arguments": {"guest_id": "G90974"}},
        },
        {
            "role": "assistant",
            "tool_call": {"name": "get_booking_details", "arguments": {"booking_id": "B11319"}},
        },
    ]
    task = _task("resume", {"messages": history}, script=["Thanks. ###STOP###"])
    models = ScriptedModels.of(
        {
            "agent": {
                "answers": [
                    call("cancel_booking", {"booking_id": "B11319"}),
                    say("Booking B11319 is cancelled; 567 will be refunded."),
                ]
            }
        }
    )
    agent = {"model": model(models, "agent")}
    [episode] = await _run(_with(hotel, task), tmp_path, models, agent=agent)

    assert episode.termination_reason is TerminationReason.USER_STOP
    assert episode.initial_messages == 5
    given = episode.messages[:5]
    assert [type(r) for r in given] == [
        UserMessage,
        AgentToolCall,
        ToolResult,
        AgentToolCall,
        ToolResult,
    ]
    assert [r.call_id for r in given if isinstance(r, AgentToolCall)] == ["call_1", "call_2"]
    assert all(r.generation is None for r in given if not isinstance(r, ToolResult))
    assert all(r.timestamp == episode.started_at for r in given)
    assert "B11319" in given[4].content and not given[4].error
    # The agent went first, numbering its call after the history's.
    first = episode.messages[5]
    assert isinstance(first, AgentToolCall) and first.call_id == "call_3"
    assert first.generation is not None
    # Its model saw the history: the first request holds the opening and both results.
    sent = request_bodies(models)[0]
    contents = [str(m.get("content")) for m in sent["messages"]]
    assert OPENING in contents and given[2].content in contents and given[4].content in contents
    # Only what was played counts as steps; the score is the usual one.
    assert episode.steps == len(episode.messages) - 5 == 4
    assert episode.reward is not None and episode.reward.reward == 1.0
    assert [c.action_match for c in episode.reward.action_checks] == [True]


async def test_the_oracle_and_the_brief_user_play_on_after_the_history(
    hotel: DomainPack, tmp_path: Path
) -> None:
    history = [
        {"role": "user", "content": "Is my June stay refundable?"},
        {"role": "assistant", "content": "Which booking is it?"},
    ]
    state = {"messages": history, "database": {"guests": {"G90974": {"note": "VIP"}}}}
    task = _task("oracle", state)
    [episode] = await _run(_with(hotel, task), tmp_path)
    assert episode.initial_messages == 2
    assert isinstance(episode.messages[2], UserMessage)
    assert episode.messages[2].content == "Cancel booking B11319."
    assert [r.name for r in episode.messages if isinstance(r, AgentToolCall)] == ["cancel_booking"]
    assert isinstance(episode.messages[-2], AgentMessage)
    assert episode.reward is not None and episode.reward.reward == 1.0
    # The episode's diff is measured from the task's start: the note is not in it.
    assert episode.database.initial_hash != hotel.content_hash
    changed = {(c.table, c.record_id) for c in episode.database.diff}
    assert changed == {("bookings", "B11319")}


async def test_a_task_that_cannot_start_is_an_infrastructure_error(
    hotel: DomainPack, tmp_path: Path
) -> None:
    state = {"actions": [{"name": "cancel_booking", "arguments": {"booking_id": "B00000"}}]}
    [episode] = await _run(_with(hotel, _task("broken", state)), tmp_path)
    assert episode.termination_reason is TerminationReason.INFRASTRUCTURE_ERROR
    assert episode.error is not None
    assert episode.error.startswith(
        "InitialStateError: task 'broken': initial_state.actions[0] cancel_booking (assistant) "
        "failed"
    )
    assert episode.reward is not None and episode.reward.reward == 0.0
    assert episode.reward.infrastructure_error is not None
