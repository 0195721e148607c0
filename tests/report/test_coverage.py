"""`policy-agent coverage`: what the hotel pack's tasks leave untested, and what runs hit,
precondition by precondition (a refusal is matched by its message template)."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.cli import main
from policy_agent.domain import load_pack
from policy_agent.records import AgentToolCall, ToolResult, UserMessage
from policy_agent.report import PackCoverage, build_coverage, load_run
from tests.report._support import HOTEL, episode, write_run


def refused(call_id: str, name: str, content: str) -> list[AgentToolCall | ToolResult]:
    return [
        AgentToolCall(call_id=call_id, name=name, arguments={}),
        ToolResult(call_id=call_id, name=name, content=content, error=True),
    ]


def test_the_hotel_tasks_leave_three_tools_and_every_refusal_untested() -> None:
    coverage = build_coverage(load_pack(HOTEL))
    assert coverage.tasks == 24 and coverage.runs == [] and coverage.episodes == 0
    assert [t.tool for t in coverage.tools if t.untested] == [
        "get_room_details",
        "get_amenity_requests",
        "think",
    ]
    assert all(p.untested for p in coverage.preconditions)
    assert len(coverage.preconditions) == 17
    assert [r.rule for r in coverage.rules if r.untested] == []
    tasks = {rule.rule: len(rule.tasks) for rule in coverage.rules}
    assert tasks == {
        "identify_before_booking_access": 16,
        "booking_read_before_change": 16,
        "explicit_yes_before_changes": 16,
        "no_compensation_offered": 24,
        "never_cancel_non_refundable": 5,
        "quiet_rooms_only_for_eligible": 4,
        "at_most_one_transfer": 4,
    }


def test_a_refusal_is_credited_to_the_precondition_whose_message_it_is(tmp_path: Path) -> None:
    messages = [
        UserMessage(content="Hello."),
        *refused("c1", "request_cribs", "Error: The number of cribs must be at least 1."),
        *refused(
            "c2",
            "request_cribs",
            "Error: Cribs must be requested at least 24 hours before check-in; booking B1 "
            "checks in at 2025-06-02T15:00.",
        ),
        *refused("c3", "find_guest_bookings", "Error: Guest G0 not found."),
        # A crash is a bug in the tool, not one of its refusing branches.
        ToolResult(call_id="c4", name="find_guest_bookings", content="Error: boom", error=True,
                   crashed=True),
    ]  # fmt: skip
    run = load_run(write_run(tmp_path, [episode("t", 0, 0.0, messages=messages)]))
    coverage = build_coverage(load_pack(HOTEL), [run])
    hit = {(p.tool, p.index): p.refused for p in coverage.preconditions if p.refused}
    assert hit == {("request_cribs", 1): 1, ("request_cribs", 2): 1, ("find_guest_bookings", 0): 1}
    tools = {t.tool: (t.calls, t.refused) for t in coverage.tools}
    assert tools["request_cribs"] == (2, 2) and tools["find_guest_bookings"] == (2, 2)


def test_coverage_prints_the_untested_items_one_a_line() -> None:
    result = CliRunner().invoke(main, ["coverage", str(HOTEL)], terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[0] == "Coverage of hotel: 24 tasks, no runs given: the runs' columns need RUN"
    start = lines.index("Untested (no task exercises): 20")
    assert lines[start + 1 : start + 5] == [
        "  tool get_room_details",
        "  tool get_amenity_requests",
        "  tool think",
        "  precondition find_guest_bookings[0]: Guest {guest_id} not found.",
    ]


def test_coverage_refuses_a_run_of_another_pack(tmp_path: Path) -> None:
    run = write_run(tmp_path, [episode("t", 0, 1.0)])
    manifest = run / "run.json"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace('"hotel"', '"library"'), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["coverage", str(HOTEL), str(run)])
    assert result.exit_code == 2
    assert "is a run of domain 'library', not of 'hotel'; give runs of PACK" in result.stderr


def test_coverage_json_is_the_model() -> None:
    result = CliRunner().invoke(main, ["coverage", str(HOTEL), "--json"])
    assert PackCoverage.model_validate_json(result.stdout).domain == "hotel"
