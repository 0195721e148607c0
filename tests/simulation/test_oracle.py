"""The oracle agent, the brief user and episode seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from policy_agent.domain import DomainPack, Task, ToolKind
from policy_agent.environment import Environment
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Message,
    ToolCall,
    ToolResult,
    UserMessage,
)
from policy_agent.simulation import (
    BriefUser,
    OracleAgent,
    Simulation,
    SimulationConfig,
    episode_seed,
)
from policy_agent.simulation._oracle import AGREE, CONFIRM, DONE, HANDOVER, OPENING, POLITE_REPLY
from tests.user._support import make_pack


async def test_the_oracle_makes_the_expected_calls_then_tells_the_outcome(
    hotel: DomainPack,
) -> None:
    task = hotel.task("cancel_late_one_night_fee")
    oracle = OracleAgent(task, kinds={tool.name: tool.kind for tool in hotel.tools})
    episode = Environment.from_pack(hotel).new_episode()
    assert (await oracle.act([])).turn == Message(content=OPENING)
    history: list = [AgentMessage(content="Hi!"), UserMessage(content="Cancel, please.")]
    for number, action in enumerate(task.evaluation_criteria.actions, 1):
        step = await oracle.act(history, seed=5)
        assert step.turn == ToolCall(name=action.name, arguments=action.arguments)
        assert isinstance(step.record, AgentToolCall)
        assert step.record.call_id == f"call_{number}"
        assert step.usage.prompt_tokens == step.usage.completion_tokens == 0
        result = episode.call(action.name, action.arguments)
        history += [step.record, result.record(step.record.call_id, action.name)]
    outcome = await oracle.act(history)
    assert isinstance(outcome.record, AgentMessage)
    # What it did in words, never a tool's raw JSON.
    assert outcome.record.content == (
        "All done: I made these changes: cancel booking (booking_id B11288). Please note: 249; 498."
    )
    history += [outcome.record, UserMessage(content="Yes, please cancel it.")]
    assert (await oracle.act(history)).turn == Message(
        content=f"That is all in place: cancel booking (booking_id B11288). {POLITE_REPLY}"
    )


async def test_after_look_ups_only_the_oracle_says_it_changed_nothing(hotel: DomainPack) -> None:
    oracle = OracleAgent(
        hotel.task("employer_booking_refused"), kinds={"get_booking_details": ToolKind.READ}
    )
    history = [
        UserMessage(content="Hello"),
        AgentToolCall(call_id="c", name="get_booking_details", arguments={"booking_id": "B1"}),
        ToolResult(call_id="c", name="get_booking_details", content="x" * 500),
        AgentToolCall(call_id="d", name="cancel_booking", arguments={"booking_id": "B1"}),
        ToolResult(call_id="d", name="cancel_booking", content="Error: Not yours.", error=True),
    ]
    step = await oracle.act(history)
    assert isinstance(step.record, AgentMessage)
    # Then the task's communicate_info, as after every outcome.
    assert step.record.content == (
        "I could not cancel booking (booking_id B1) (Not yours.). Please note: holder."
    )
    step = await oracle.act(history[:3])
    assert isinstance(step.record, AgentMessage)
    assert step.record.content == (
        "I have looked into your request. I checked get booking details (booking_id B1). "
        "I have made no change. Please note: holder."
    )


async def test_the_brief_user_gives_the_reason_then_stops(hotel: DomainPack) -> None:
    task = hotel.task("crib_too_late")
    user = BriefUser(task)
    first = await user.respond([AgentMessage(content="Hi!")], seed=None)
    assert isinstance(first.record, UserMessage) and first.stop is None
    assert first.record.content == task.user_scenario.instructions.reason_for_call  # type: ignore[union-attr]
    last = await user.respond([first.record, AgentMessage(content="Done.")], seed=None)
    assert last.stop == "stop" and "###STOP###" in last.record.content  # type: ignore[union-attr]


async def test_before_a_write_the_oracle_asks_until_the_user_agrees(hotel: DomainPack) -> None:
    task = hotel.task("gold_late_checkout_and_early_checkin")
    oracle = OracleAgent(task, confirmations=hotel.confirmations_for(task))
    episode = Environment.from_pack(hotel).new_episode()
    history: list = [AgentMessage(content="Hi!"), UserMessage(content="Early check-in, please.")]
    reads, writes = task.evaluation_criteria.actions[:3], task.evaluation_criteria.actions[3:]
    for action in reads:  # reads need no yes
        step = await oracle.act(history)
        assert isinstance(step.record, AgentToolCall) and step.record.name == action.name
        result = episode.call(action.name, action.arguments)
        history += [step.record, result.record(step.record.call_id, action.name)]
    # The two writes in a row are asked for in one message.
    asked = await oracle.act(history)
    assert asked.turn == Message(
        content=f"{CONFIRM} request amenity (booking_id B11366, amenity_id early_checkin, "
        "quantity 1); then request amenity (booking_id B11366, amenity_id late_checkout, "
        "quantity 1). Shall I go ahead?"
    )
    history += [asked.record, UserMessage(content="What would they cost?")]
    again = await oracle.act(history)
    assert again.turn == asked.turn  # a reply that does not agree: asked again
    history += [again.record, UserMessage(content="That's fine, please add both.")]
    for action in writes:
        step = await oracle.act(history)
        assert step.turn == ToolCall(name=action.name, arguments=action.arguments)
        assert isinstance(step.record, AgentToolCall)
        result = episode.call(action.name, action.arguments)
        history += [step.record, result.record(step.record.call_id, action.name)]


async def test_without_confirmation_rules_the_oracle_asks_nothing(hotel: DomainPack) -> None:
    task = hotel.task("cancel_free_window")
    history = [
        AgentMessage(content="Hi!"),
        UserMessage(content="Cancel B11319."),
    ]
    oracle = OracleAgent(task)  # no rules given
    calls = [action.name for action in task.evaluation_criteria.actions]
    for name in calls:
        step = await oracle.act(history)
        assert isinstance(step.record, AgentToolCall) and step.record.name == name
        history += [step.record, ToolResult(call_id=step.record.call_id, name=name, content="ok")]


async def test_the_brief_user_agrees_to_what_the_oracle_asks(hotel: DomainPack) -> None:
    user = BriefUser(hotel.task("crib_too_late"))
    opening = UserMessage(content="I need a crib.")
    asked = AgentMessage(content=f"{CONFIRM} request cribs (booking_id B11302, count 1). Shall I?")
    step = await user.respond([AgentMessage(content="Hi!"), opening, asked], seed=None)
    assert step.record == UserMessage(content=AGREE, timestamp=step.record.timestamp)
    assert step.stop is None


def test_seeds_are_a_stable_hash() -> None:
    # Golden values: changing the derivation would change every published run's seeds.
    assert episode_seed(0, "card_triplet_cribs", 0) == 2054493997
    assert episode_seed(0, "card_triplet_cribs", 1) != episode_seed(0, "card_triplet_cribs", 0)
    assert episode_seed(1, "card_triplet_cribs", 0) != episode_seed(0, "card_triplet_cribs", 0)


@given(st.integers(-(2**63), 2**63), st.text(min_size=1), st.integers(0, 10_000))
def test_seeds_fit_31_bits(seed: int, task_id: str, trial: int) -> None:
    value = episode_seed(seed, task_id, trial)
    assert 0 <= value < 2**31
    assert value == episode_seed(seed, task_id, trial)


async def test_the_oracle_and_the_brief_user_take_turns_through_both_sides_actions(
    tmp_path: Path,
) -> None:
    """Dual control: the agent checks the line, the user turns airplane mode off, the agent
    checks again; each side makes its own calls, in the task's order."""
    task = Task.model_validate(
        {
            "id": "airplane",
            "user_scenario": {"instructions": "My phone has no signal."},
            "evaluation_criteria": {
                "actions": [
                    {"action_id": "a", "name": "check_line", "arguments": {"line_id": "L1"}},
                    {
                        "action_id": "b",
                        "requestor": "user",
                        "name": "set_airplane_mode",
                        "arguments": {"on": False},
                    },
                    {"action_id": "c", "name": "check_line", "arguments": {"line_id": "L1"}},
                ],
                "reward_basis": ["DB", "ACTION"],
            },
        }
    )
    pack = dataclasses.replace(make_pack(user_tools=True), tasks=(task,))
    config = SimulationConfig.model_validate(
        {"domain": str(tmp_path), "agent": {"kind": "oracle"}, "user": {"kind": "scripted"}}
    )
    simulation = Simulation(config, pack)
    try:
        episode = await simulation.play(simulation.episodes[0])
    finally:
        await simulation.aclose()
    turns = [
        (type(r).__name__, getattr(r, "name", None) or getattr(r, "content", ""))
        for r in episode.messages
        if not isinstance(r, ToolResult)
    ]
    assert turns[0][0] == "AgentMessage"  # the greeting
    assert turns[1:] == [
        ("UserMessage", "My phone has no signal."),
        ("AgentToolCall", "check_line"),
        ("AgentMessage", f"{HANDOVER} set_airplane_mode."),
        ("UserToolCall", "set_airplane_mode"),
        ("UserMessage", DONE),
        ("AgentToolCall", "check_line"),
        ("AgentMessage", turns[7][1]),
        ("UserMessage", "Thank you. ###STOP###"),
    ]
    assert turns[7][1] == (
        "I have looked into your request. I checked check line (line_id L1); check line "
        "(line_id L1). I have made no change."
    )
    assert [r.call_id for r in episode.messages if isinstance(r, AgentToolCall)] == [
        "call_1",
        "call_2",
    ]
    assert episode.user_database is not None and episode.user_database.diff[0].after == {
        "airplane_mode": False,
        "signal": "none",
    }
    assert episode.reward is not None and episode.reward.reward == 1.0
