"""Expected actions beside the calls made: pairing, the evaluator's verdicts, compared arguments."""

from __future__ import annotations

from policy_agent.domain import Action
from policy_agent.records import AgentToolCall, UserToolCall
from policy_agent.tui import arguments_match, call_text, pair_actions
from tests.tui._runs import failed, successful


def action(name: str, requestor: str = "assistant", **arguments: object) -> Action:
    return Action.model_validate(
        {"action_id": name, "name": name, "requestor": requestor, "arguments": arguments}
    )


def test_the_evaluators_verdicts_are_shown_and_each_call_is_paired_once() -> None:
    episode = failed()
    assert episode.reward is not None
    expected = [check.action for check in episode.reward.action_checks]
    rows = pair_actions([*expected, action("change_room", booking_id="B11246")], episode)
    assert [(row.expected.name if row.expected else None) for row in rows] == [
        "get_guest_details",
        "get_booking_details",
        "request_cribs",
        "change_room",
    ]
    assert [row.matched for row in rows] == [True, True, False, False]
    cribs = rows[2].actual
    assert isinstance(cribs, AgentToolCall) and cribs.arguments["count"] == 2
    assert rows[3].actual is None  # never called


def test_without_verdicts_the_compared_arguments_decide() -> None:
    episode = successful().model_copy(update={"reward": None})
    rows = pair_actions(
        [
            action("search_available_rooms", booking_id="B11246", room_type="suite"),
            action("request_cribs", booking_id="B11246", count=3.0),
        ],
        episode,
    )
    assert [row.matched for row in rows[:2]] == [False, True]  # 3.0 is the number 3
    compared = Action.model_validate(
        {
            "action_id": "a",
            "name": "search_available_rooms",
            "arguments": {"booking_id": "B11246", "room_type": "suite"},
            "compare_args": ["booking_id"],
        }
    )
    [paired] = pair_actions([compared], episode)[:1]
    assert paired.matched is True
    # Calls no action expected follow, in the order they were made.
    extra = [row.actual.name for row in rows if row.expected is None and row.actual]
    assert extra == ["get_guest_details", "get_booking_details", "change_room"]


def test_user_actions_pair_with_user_calls_only() -> None:
    episode = successful()
    user_call = UserToolCall(
        call_id="u1", name="get_guest_details", arguments={"guest_id": "G90920"}
    )
    with_user = episode.model_copy(update={"messages": [*episode.messages, user_call]})
    [row, *_] = pair_actions([action("get_guest_details", "user", guest_id="G90920")], with_user)
    assert row.actual is user_call and row.matched is True


def test_arguments_and_calls_read_as_json() -> None:
    expected = action("request_cribs", booking_id="B11246", count=3)
    assert arguments_match(expected, {"booking_id": "B11246", "count": 3, "note": "x"})
    assert not arguments_match(expected, {"booking_id": "B11246", "count": True})
    assert call_text("f", {"a": "x", "b": [1, None]}) == 'f(a="x", b=[1, null])'
