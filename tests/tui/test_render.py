"""The step renderer on the records the fixture episodes lack: errors, crashes, the user's own
tool calls, inserts and deletes, kept-first violations; and what folding hides."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue
from rich.cells import cell_len
from rich.console import Console

from policy_agent.records import (
    AgentToolCall,
    ErrorEvent,
    Generation,
    RecordedChange,
    RetryEvent,
    ToolCall,
    ToolResult,
    UserMessage,
    UserToolCall,
    Violation,
    ViolationCode,
    ViolationEvent,
)
from policy_agent.tui import FOLDED, RenderOptions, Step, pretty_json_text, render_step

T0 = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def text_of(step: Step, options: RenderOptions | None = None, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(render_step(step, started_at=T0, options=options or RenderOptions()))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_refused_call_and_a_crashed_tool() -> None:
    refused = ToolResult(
        call_id="c",
        name="cancel_booking",
        content="Error: not refundable",
        error=True,
        timestamp=at(2),
    )
    header, body = text_of(Step(index=4, record=refused)).splitlines()
    assert header.startswith(" 5  cancel_booking returned (error) ")
    assert header.endswith(" +2.0s") and len(header) == 80  # the time at the right edge
    assert body == "    Error: not refundable"
    crashed = refused.model_copy(
        update={"crashed": True, "detail": "Traceback (most recent call last):\n  KeyError"}
    )
    assert "cancel_booking returned (crashed)" in text_of(Step(index=0, record=crashed))
    assert "KeyError" in text_of(Step(index=0, record=crashed))
    folded = text_of(Step(index=0, record=crashed), FOLDED)
    assert "▸ traceback (v)" in folded and "KeyError" not in folded


def test_the_users_own_call_and_its_result() -> None:
    call = UserToolCall(call_id="u", name="toggle_roaming", arguments={}, timestamp=at(1))
    assert text_of(Step(index=0, record=call)).splitlines()[1:] == ["    (no arguments)"]
    assert "user → toggle_roaming" in text_of(Step(index=0, record=call))


def test_inserts_and_deletes_list_every_field() -> None:
    result = ToolResult(
        call_id="c",
        name="request_amenity",
        content='{"id": "A1"}',
        timestamp=at(3),
        changes=[
            RecordedChange(
                table="amenity_requests",
                record_id="A1",
                before=None,
                after={"booking_id": "B1", "item": "towels"},
            ),
            RecordedChange(table="holds", record_id="H9", before={"room_id": "R1"}, after=None),
        ],
    )
    lines = text_of(Step(index=0, record=result)).splitlines()
    assert lines[-5:] == [
        "    database amenity_requests[A1] insert",
        '      + booking_id: "B1"',
        '      + item: "towels"',
        "    database holds[H9] delete",
        '      - room_id: "R1"',
    ]


def test_a_kept_first_violation_names_what_was_dropped() -> None:
    generation = Generation(model="m", transport="completions", raw_completion="<tool_call>…")
    event = ViolationEvent(
        violation=Violation(
            code=ViolationCode.TEXT_AFTER_TOOL_CALL,
            detail="text after the call",
            calls=[ToolCall(name="a", arguments={})],
        ),
        action_taken="keep_first",
        dropped_calls=[ToolCall(name="b", arguments={"x": 1})],
        dropped_text="and one more thing",
        generation=generation,
        timestamp=at(1),
    )
    retry = RetryEvent(
        model="m",
        attempt=2,
        error_type="LLMTimeout",
        message="timed out",
        latency_ms=30000,
        timestamp=at(1.5),
    )
    call = AgentToolCall(call_id="c", name="a", arguments={}, timestamp=at(2))
    text = text_of(Step(index=0, record=call, events=(event, retry)))
    assert "VIOLATION  text_after_tool_call · attempt 1 · kept the first call" in text
    assert "dropped b(x=1)" in text and "dropped text: and one more thing" in text
    assert "RETRY  LLMTimeout · attempt 2 · 30000 ms" in text and "timed out" in text


def test_an_error_event_folds_its_traceback() -> None:
    error = ErrorEvent(
        role="runner",
        error_type="KeyError",
        message="'rooms'",
        detail="Traceback ...\nKeyError: 'rooms'",
        timestamp=at(9),
    )
    step = Step(index=7, record=None, events=(error,))
    assert " 8  end of episode" in text_of(step)
    assert "Traceback ..." in text_of(step)
    assert "▸ traceback (v)" in text_of(step, FOLDED) and "Traceback" not in text_of(step, FOLDED)


def test_long_arguments_are_indented_json_and_text_is_never_markup() -> None:
    call = AgentToolCall(
        call_id="c",
        name="add_special_request",
        arguments={"text": "[bold]not markup[/bold]", "items": list(range(30))},
        timestamp=at(1),
    )
    text = text_of(Step(index=0, record=call))
    assert 'text: "[bold]not markup[/bold]"' in text
    assert "items: [\n      0,\n      1," in text


WORDS = st.text(alphabet=st.sampled_from('abcé界-/:?="\\ '), min_size=0, max_size=30)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.lists(WORDS, max_size=12).map(" ".join),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(WORDS, inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    arguments=st.dictionaries(st.from_regex(r"[a-z_]{1,30}", fullmatch=True), VALUES, max_size=4),
    width=st.integers(min_value=40, max_value=120),
)
def test_arguments_and_results_fit_the_width_and_lose_nothing(
    arguments: dict[str, JsonValue], width: int
) -> None:
    call = AgentToolCall(call_id="c", name="note", arguments=arguments, timestamp=at(1))
    content = json.dumps(arguments, ensure_ascii=False)
    result = ToolResult(call_id="c", name="note", content=content, timestamp=at(2))
    for step, parts in ((call, arguments.values()), (result, [arguments])):
        text = text_of(Step(index=0, record=step), width=width)
        assert max(cell_len(line) for line in text.splitlines()) <= width
        squashed = "".join(text.split())
        for value in parts:
            assert "".join(json.dumps(value, ensure_ascii=False).split()) in squashed


def test_json_is_indented_and_other_text_kept() -> None:
    assert pretty_json_text('{"a": [1, "é"]}') == '{\n  "a": [\n    1,\n    "é"\n  ]\n}'
    assert pretty_json_text("Error: no such booking") == "Error: no such booking"


def test_a_step_of_the_tasks_history_says_so() -> None:
    opening = UserMessage(content="Please cancel B11319.", timestamp=at(0))
    header = text_of(Step(index=0, record=opening, given=True)).splitlines()[0]
    assert header.startswith(" 1  user  (task history) ") and header.endswith(" +0.0s")
    assert "task history" not in text_of(Step(index=1, record=opening))


def test_a_generation_names_its_replica_and_a_retry_its_move() -> None:
    generation = Generation(
        model="hosted_vllm/user",
        transport="chat",
        raw_completion="Hi.",
        api_base="http://127.0.0.1:8001/v1",
    )
    said = UserMessage(content="Hi.", generation=generation, timestamp=at(1))
    moved = RetryEvent(
        model="hosted_vllm/user",
        attempt=1,
        error_type="ServerError",
        message="500",
        latency_ms=3,
        api_base="http://127.0.0.1:8000/v1",
        moved_to="http://127.0.0.1:8001/v1",
        timestamp=at(1),
    )
    lines = text_of(Step(index=0, record=said, events=(moved,)), width=120).splitlines()
    assert lines[0].startswith(" 1  user  @ http://127.0.0.1:8001/v1 ")
    assert lines[1] == (
        "     RETRY  ServerError · attempt 1 · 3 ms · http://127.0.0.1:8000/v1 failed: "
        "moved to http://127.0.0.1:8001/v1"
    )
    old = said.model_copy(update={"generation": generation.model_copy(update={"api_base": None})})
    assert "@" not in text_of(Step(index=0, record=old)).splitlines()[0]
