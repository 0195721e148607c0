"""A tool's outcome as the conversation records it, and a recorded change read back."""

from __future__ import annotations

from policy_agent.environment import Change, ToolOutcome

CRIBS_CHANGE = Change(
    table="bookings",
    record_id="B11246",
    before={"cribs": 0, "status": "confirmed"},
    after={"cribs": 3, "status": "confirmed"},
)


def test_a_tool_result_record_keeps_what_the_environment_changed() -> None:
    result = ToolOutcome(content='{"cribs": 3}', value={"cribs": 3}, changes=(CRIBS_CHANGE,))

    record = result.record("call_1", "request_cribs")

    assert (record.content, record.error, record.requestor) == ('{"cribs": 3}', False, "assistant")
    [change] = record.changes
    assert Change.of_record(change) == CRIBS_CHANGE
    assert [str(diff) for diff in Change.of_record(change).field_diff()] == ["cribs: 0 -> 3"]


def test_a_user_tool_result_record_names_its_requestor() -> None:
    record = ToolOutcome(content="on").record("user_call_1", "toggle_wifi", requestor="user")

    assert (record.requestor, record.changes) == ("user", [])
