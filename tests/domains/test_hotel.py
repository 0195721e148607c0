"""The hotel pack: it loads, it is as large as promised, and every task is solvable as written.

The oracle property is the one tau2-bench's DB reward relies on: replaying a task's expected
actions on a fresh database must succeed call by call, or the "gold" state it scores against is
not the state a perfect agent reaches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from policy_agent.domain import (
    DomainPack,
    PythonImplementation,
    Task,
    ToolKind,
    load_pack,
    passed_by_doing_nothing,
)
from policy_agent.environment import Environment, EpisodeEnvironment
from policy_agent.records import RewardInfo, RewardType, TerminationReason
from tests._models import ScriptedModels
from tests.simulation._support import call, model, play_one, say, sim_config

PACK = Path(__file__).resolve().parents[2] / "domains" / "hotel"

CARD_MESSAGE = (
    "Hello, I'm calling regarding my upcoming stay at your hotel. My guest ID is G90920 and "
    "booking ID is B11246 for a Deluxe room on June 5th. I'm traveling with three 6-month-old "
    "triplets and need to request three infant cribs for our room. It's currently 30 hours "
    "before check-in—could you please confirm if this is feasible and if there are quiet room "
    "options available for families with infants?"
)
"""The user turn of the model card's agentic example, verbatim."""

FORBIDDEN: dict[str, tuple[str, dict[str, JsonValue], str]] = {
    "crib_too_late": (
        "request_cribs",
        {"booking_id": "B11302", "count": 1},
        "at least 24 hours before check-in",
    ),
    "twins_upgrade_for_cribs": (
        "request_cribs",
        {"booking_id": "B11308", "count": 2},
        "maximum number of cribs in a standard room is 1",
    ),
    "crib_limit_partial": (
        "request_cribs",
        {"booking_id": "B11315", "count": 2},
        "maximum number of cribs in a deluxe room is 3",
    ),
    "nonrefundable_cancel_refused": (
        "cancel_booking",
        {"booking_id": "B11310"},
        "non-refundable rate; it cannot be cancelled",
    ),
    "nonrefundable_emergency_transfer": (
        "cancel_booking",
        {"booking_id": "B11327"},
        "non-refundable rate; it cannot be cancelled",
    ),
    "quiet_room_refused_note_instead": (
        "change_room",
        {"booking_id": "B11381", "room_id": "R0412"},
        "R0412 is a quiet room",
    ),
    "suite_upgrade_with_fee": (
        "change_room",
        {"booking_id": "B11334", "room_id": "R0702"},
        "R0702 is a quiet room",
    ),
    "amenities_standard_room": (
        "request_amenity",
        {"booking_id": "B11373", "amenity_id": "rollaway_bed", "quantity": 1},
        "not offered in standard rooms",
    ),
}
"""Per task, the write a policy-breaking agent would attempt first, and the precondition that
stops it on the initial database (the twins' two cribs are fine after their upgrade). Refusals no
tool can enforce (who may act on a booking) are scored on the final database instead."""


@pytest.fixture(scope="module")
def pack() -> DomainPack:
    return load_pack(PACK)


@pytest.fixture(scope="module")
def environment(pack: DomainPack) -> Environment:
    return Environment.from_pack(pack)


def _task_ids() -> list[str]:
    return [task.id for task in load_pack(PACK).tasks]


def _replay(environment: Environment, task: Task) -> tuple[EpisodeEnvironment, list[str]]:
    """Run the task's expected actions in order; return the episode and every result's text."""
    episode = environment.new_episode()
    contents = []
    for action in task.evaluation_criteria.actions:
        result = episode.call(action.name, action.arguments, requestor=action.requestor)
        assert not result.error, f"{task.id}: {action.action_id} {action.name}: {result.content}"
        contents.append(result.content)
    return episode, contents


def _kind(pack: DomainPack, tool_name: str) -> ToolKind:
    return pack.tool(tool_name).kind


def _outcome(pack: DomainPack, task: Task) -> str:
    """transferred, refused (nothing or only part of what was asked is done) or allowed."""
    kinds = {_kind(pack, a.name) for a in task.evaluation_criteria.actions}
    if ToolKind.TRANSFER in kinds:
        return "transferred"
    if ToolKind.WRITE not in kinds or task.id in FORBIDDEN:
        return "refused"
    return "allowed"


# ----------------------------------------------------------------------------- size and shape


def test_pack_is_as_large_as_the_issue_asks(pack: DomainPack) -> None:
    declarative = [t for t in pack.tools if not isinstance(t.implementation, PythonImplementation)]
    assert len(pack.tools) >= 10
    assert len(declarative) > len(pack.tools) / 2
    assert len(pack.database["bookings"]) >= 20
    assert len(pack.database["guests"]) >= 20
    assert len(pack.tasks) >= 15
    assert 1000 <= len(pack.policy.split()) <= 1800


def test_tasks_cover_every_outcome(pack: DomainPack) -> None:
    outcomes = [_outcome(pack, task) for task in pack.tasks]
    for outcome in ("allowed", "refused", "transferred"):
        assert outcomes.count(outcome) >= 3, f"only {outcomes.count(outcome)} {outcome} tasks"


def test_policy_states_the_clock(pack: DomainPack) -> None:
    assert pack.clock == "2025-06-04T09:00:00"
    assert "2025-06-04 09:00" in pack.policy


def test_card_task_opens_with_the_card_message(pack: DomainPack) -> None:
    task = pack.task("card_triplet_cribs")
    assert pack.tasks[0] is task
    assert task.user_scenario.script is not None
    assert task.user_scenario.script[0] == CARD_MESSAGE


@pytest.mark.parametrize("task_id", _task_ids())
def test_script_ends_the_call_as_the_outcome_requires(pack: DomainPack, task_id: str) -> None:
    task = pack.task(task_id)
    script = task.user_scenario.script
    assert script, f"{task_id} has no script for the scripted user"
    expected = "###TRANSFER###" if _outcome(pack, task) == "transferred" else "###STOP###"
    assert script[-1].endswith(expected)
    assert not any("###" in line for line in script[:-1])


# ----------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("task_id", _task_ids())
def test_expected_actions_replay_and_satisfy_the_assertions(
    pack: DomainPack, environment: Environment, task_id: str
) -> None:
    task = pack.task(task_id)
    episode, _ = _replay(environment, task)
    for assertion in task.evaluation_criteria.env_assertions:
        assert episode.evaluate_assertion(assertion), f"{task_id}: {assertion.check}"
    writes = [a for a in task.evaluation_criteria.actions if _kind(pack, a.name) == ToolKind.WRITE]
    changed = episode.content_hash() != environment.new_episode().content_hash()
    assert changed == bool(writes), f"{task_id}: the writes should (only) change the database"


@pytest.mark.parametrize("task_id", _task_ids())
def test_what_the_agent_must_say_comes_from_a_tool_or_the_policy(
    pack: DomainPack, environment: Environment, task_id: str
) -> None:
    task = pack.task(task_id)
    _, contents = _replay(environment, task)
    if task_id in FORBIDDEN:
        name, arguments, _ = FORBIDDEN[task_id]
        contents.append(environment.new_episode().call(name, arguments).content)
    # A fact (a price, a room) comes from a tool; a refusal made before any call (who may act,
    # how to identify) has only the policy's words to give.
    source = "tool result" if contents else "line of the policy"
    # As tau2-bench compares: case-insensitive substrings, commas removed.
    seen = " ".join(contents or [pack.policy]).replace(",", "").lower()
    for info in task.evaluation_criteria.communicate_info:
        wanted = info.replace(",", "").lower()
        assert wanted in seen, f"{task_id}: {info!r} is in no {source}"


@pytest.mark.parametrize("task_id", sorted(FORBIDDEN))
def test_forbidden_write_is_refused_by_its_precondition(
    pack: DomainPack, environment: Environment, task_id: str
) -> None:
    name, arguments, reason = FORBIDDEN[task_id]
    assert _kind(pack, name) == ToolKind.WRITE
    episode = environment.new_episode()
    result = episode.call(name, arguments)
    assert result.error and not result.crashed, result.content
    assert reason in result.content
    assert episode.content_hash() == environment.new_episode().content_hash()


# ----------------------------------------------------------------------------- the data


def test_bookings_are_priced_consistently(pack: DomainPack) -> None:
    for booking_id, booking in pack.database["bookings"].items():
        nights, rate = booking["nights"], booking["nightly_rate"]
        assert isinstance(nights, int) and isinstance(rate, int), booking_id
        assert booking["total_price"] == rate * nights, booking_id
        assert booking["amount_paid"] == booking["total_price"], booking_id
        room = pack.database["rooms"][str(booking["room_id"])]
        assert room["room_type"] == booking["room_type"], booking_id


def test_quiet_rooms_are_held_only_by_families_with_infants_or_platinum_guests(
    pack: DomainPack,
) -> None:
    guests, rooms = pack.database["guests"], pack.database["rooms"]
    for booking_id, booking in pack.database["bookings"].items():
        active = booking["status"] in ("confirmed", "checked_in")
        if active and rooms[str(booking["room_id"])]["quiet"]:
            tier = guests[str(booking["guest_id"])]["loyalty_tier"]
            assert booking["infants"] or tier == "platinum", booking_id


# ----------------------------------------------------------------------------- room changes

CHANGE_ROOM_REFUSALS = [
    ({"booking_id": "B11254", "room_id": "R0410"}, "checked_in; only confirmed bookings"),
    ({"booking_id": "B11246", "room_id": "R0403"}, "already in room R0403"),
    ({"booking_id": "B11246", "room_id": "R0404"}, "out of service"),
    ({"booking_id": "B11246", "room_id": "R0510"}, "already booked for some of the nights"),
    ({"booking_id": "B11334", "room_id": "R0301"}, "moving to a lower room type is not possible"),
    ({"booking_id": "B11399", "room_id": "R0703"}, "holds at most 3 adults and children"),
    ({"booking_id": "B11246", "room_id": "R0999"}, "Room R0999 not found"),
]


@pytest.mark.parametrize(("arguments", "reason"), CHANGE_ROOM_REFUSALS)
def test_change_room_refuses_with_the_reason(
    environment: Environment, arguments: dict[str, JsonValue], reason: str
) -> None:
    result = environment.new_episode().call("change_room", arguments)
    assert result.error and not result.crashed, result.content
    assert reason in result.content


def test_change_room_keeps_the_cribs_the_new_room_must_hold(environment: Environment) -> None:
    episode = environment.new_episode()
    assert not episode.call("request_cribs", {"booking_id": "B11246", "count": 3}).error
    result = episode.call("change_room", {"booking_id": "B11246", "room_id": "R0703"})
    assert result.error and not result.crashed, result.content
    assert "holds at most 2 cribs; booking B11246 has 3" in result.content


def test_same_day_turnover_leaves_the_room_free(environment: Environment) -> None:
    # B11254 leaves R0412 on the morning of June 5th, the day B11246 arrives.
    result = environment.new_episode().call("search_available_rooms", {"booking_id": "B11246"})
    assert isinstance(result.value, list)
    free = {room["room_id"] for room in result.value if isinstance(room, dict)}
    assert "R0412" in free
    assert free.isdisjoint({"R0403", "R0404", "R0510", "R0512"})


# ----------------------------------------------------------------------------- refusals

REFUSE_EVERYTHING = say("I'm sorry, but I can't help with that.")

RIGHT_REFUSALS: dict[str, list[dict[str, Any]]] = {
    "nonrefundable_cancel_refused": [
        call("get_guest_details", {"guest_id": "G91015"}),
        call("get_booking_details", {"booking_id": "B11310"}),
        say("Booking B11310 is non-refundable, so I cannot cancel it."),
        say("I'm sorry, a partial refund is not possible either."),
        say("I'm sorry, that is not possible either."),
    ],
    "employer_booking_refused": [
        say("I'm sorry: only the booking's holder may cancel it. He has to contact us himself."),
        say("I understand, but the holder has to contact us himself."),
    ],
    "lookup_by_email_refused": [
        say("To find your stay I need your guest ID or your booking ID, with your name."),
        say("Then please call again with your booking ID or guest ID at hand."),
    ],
}
"""Per refusal task, an agent that refuses for the right reason (the breaches' agents say the
same words in tests/domains/test_hotel_rules.py)."""


async def _reward(pack: DomainPack, task_id: str, answers: list[dict[str, Any]]) -> RewardInfo:
    models = ScriptedModels.of({"agent": {"answers": answers, "when_exhausted": "repeat_last"}})
    config = sim_config(domain=str(PACK), agent={"model": model(models, "agent")})
    episode = await play_one(config, pack, task_id, models=models)
    assert episode.termination_reason is TerminationReason.USER_STOP, episode.error
    assert episode.reward is not None
    return episode.reward


def test_validate_warns_of_no_refusal_task(pack: DomainPack) -> None:
    assert passed_by_doing_nothing(pack.tools, pack.tasks) == []


@pytest.mark.parametrize("task_id", sorted(RIGHT_REFUSALS))
async def test_a_refusal_task_fails_an_agent_that_refuses_everything(
    pack: DomainPack, task_id: str
) -> None:
    # Nothing changes in these tasks: the database alone cannot tell the two agents apart.
    wrong = await _reward(pack, task_id, [REFUSE_EVERYTHING])
    assert (wrong.reward, wrong.reward_breakdown[RewardType.DB]) == (0.0, 1.0)
    assert [check.met for check in wrong.communicate_checks] == [False] * len(
        pack.task(task_id).evaluation_criteria.communicate_info
    )
    right = await _reward(pack, task_id, RIGHT_REFUSALS[task_id])
    assert right.reward == 1.0, right.reward_breakdown


async def test_a_refusal_without_the_look_up_fails_the_non_refundable_task(
    pack: DomainPack,
) -> None:
    # It names the reason, but without reading the booking it cannot know it.
    answers = RIGHT_REFUSALS["nonrefundable_cancel_refused"][2:]
    reward = await _reward(pack, "nonrefundable_cancel_refused", answers)
    assert reward.reward_breakdown[RewardType.COMMUNICATE] == 1.0
    assert (reward.reward_breakdown[RewardType.ACTION], reward.reward) == (0.0, 0.0)
