"""One action per turn: every violation strategy, on every way of asking (models in process)."""

from __future__ import annotations

from policy_agent.agent import DEFAULT_FEEDBACK, GaveUpStep, ViolationPolicy
from policy_agent.records import (
    AgentToolCall,
    ChatAssistantMessage,
    ChatToolCall,
    ChatUserMessage,
    FunctionCallPayload,
    Message,
    ToolCall,
    ToolResult,
    UserMessage,
    Violation,
    ViolationCode,
    ViolationEvent,
    VllmReading,
)
from tests.agent._support import CRIBS_CALL, request_bodies

HELLO = UserMessage(content="Hi, I need three cribs for B11246.")
TWO_CALLS = CRIBS_CALL + "\n" + CRIBS_CALL.replace("3", "2")
CRIBS = ToolCall(name="request_cribs", arguments={"booking_id": "B11246", "count": 3})
CRIBS_2 = ToolCall(name="request_cribs", arguments={"booking_id": "B11246", "count": 2})
STRUCTURED_CRIBS = {"name": "request_cribs", "arguments": {"booking_id": "B11246", "count": 3}}


def violations(step_events: tuple[object, ...]) -> list[ViolationEvent]:
    return [event for event in step_events if isinstance(event, ViolationEvent)]


async def test_resample_asks_again_with_the_same_prompt_and_a_derived_seed(
    models, make_agent
) -> None:
    model = models([{"content": TWO_CALLS}, {"content": CRIBS_CALL}])
    agent = make_agent(model, thinking=False)

    step = await agent.act([HELLO], seed=7)

    assert step.turn == CRIBS
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert event.action_taken == "resample"
    assert event.generation.raw_completion == TWO_CALLS
    assert (event.generation.attempt, event.generation.seed) == (1, 7)
    first, second = request_bodies(model)
    assert (first["seed"], second["seed"]) == (7, 8)
    assert {**first, "seed": 0} == {**second, "seed": 0}
    assert isinstance(step.record, AgentToolCall) and step.record.generation is not None
    assert (step.record.generation.attempt, step.record.generation.seed) == (2, 8)
    assert step.usage == event.generation.usage + step.record.generation.usage


async def test_resample_exhausted_ends_the_episode_with_the_last_violation(
    models, make_agent
) -> None:
    model = models([{"content": ""}, {"content": TWO_CALLS}])
    agent = make_agent(model, thinking=False, violations=ViolationPolicy(max_attempts=2))

    step = await agent.act([HELLO])

    assert isinstance(step, GaveUpStep)
    assert step.turn.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert [(e.violation.code, e.action_taken) for e in violations(step.events)] == [
        (ViolationCode.EMPTY, "resample"),
        (ViolationCode.MULTIPLE_TOOL_CALLS, "terminate"),
    ]
    assert len(model.requests) == 2


async def test_feedback_adds_the_correction_to_the_retry_request_only(models, make_agent) -> None:
    model = models(
        [
            {"content": TWO_CALLS, "reasoning": "Both counts?"},
            {"content": CRIBS_CALL},
            {"content": "Done: three cribs."},
        ]
    )
    agent = make_agent(model, violations=ViolationPolicy(strategy="feedback"))

    step = await agent.act([HELLO])
    assert step.turn == CRIBS
    assert isinstance(step.record, AgentToolCall)
    result = ToolResult(call_id=step.record.call_id, name="request_cribs", content="ok")
    await agent.act([HELLO, step.record, result])

    first, retry, next_turn = (body["messages"] for body in request_bodies(model))
    detail = "2 tool calls in one turn; make one call per turn"
    correction = DEFAULT_FEEDBACK.format(detail=detail)
    # The rejected answer is shown back without its reasoning, then the correction.
    assert retry == [
        *first,
        {"role": "assistant", "content": TWO_CALLS},
        {"role": "user", "content": correction},
    ]
    assert all(message["content"] != correction for message in next_turn)
    assert len(next_turn) == len(first) + 2
    assert step.record.generation is not None
    assert step.record.generation.correction_messages == [
        ChatAssistantMessage(content=TWO_CALLS),
        ChatUserMessage(content=correction),
    ]
    [event] = violations(step.events)
    assert event.action_taken == "feedback"


async def test_feedback_text_is_configurable(models, make_agent) -> None:
    model = models([{"text": "</think>\n"}, {"text": "</think>\nHello!"}])
    policy = ViolationPolicy(strategy="feedback", feedback="Format problem: {detail}.")
    agent = make_agent(model, transport="completions", violations=policy)

    step = await agent.act([HELLO])

    assert step.turn == Message(content="Hello!")
    retry = request_bodies(model)[1]["prompt"]
    assert retry.endswith(
        "<|im_start|>assistant\n<think></think><|im_end|>\n"
        "<|im_start|>user\nFormat problem: no message and no tool call after the reasoning."
        "<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
    assert step.record is not None and step.record.generation is not None
    corrections = step.record.generation.correction_messages
    assert agent.prompt([HELLO], corrections=corrections) == retry


async def test_keep_first_runs_the_first_call_and_records_the_dropped_ones(
    models, make_agent
) -> None:
    model = models([{"content": "Adding them.\n" + TWO_CALLS, "reasoning": "Fine."}])
    agent = make_agent(model, violations=ViolationPolicy(strategy="keep_first"))

    step = await agent.act([HELLO])

    assert step.turn == CRIBS.model_copy(update={"reasoning": "Fine.", "prelude": "Adding them."})
    assert isinstance(step.record, AgentToolCall)
    assert (step.record.name, step.record.arguments) == (CRIBS.name, CRIBS.arguments)
    assert (step.record.reasoning, step.record.content) == ("Fine.", "Adding them.")
    [event] = violations(step.events)
    assert event.action_taken == "keep_first"
    assert event.dropped_calls == [CRIBS_2]
    assert len(model.requests) == 1


async def test_keep_first_drops_text_after_the_call(models, make_agent) -> None:
    model = models([{"text": "</think>\n" + CRIBS_CALL + "\nAll done!"}])
    agent = make_agent(
        model, transport="completions", violations=ViolationPolicy(strategy="keep_first")
    )

    step = await agent.act([HELLO])

    assert step.turn == CRIBS
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.TEXT_AFTER_TOOL_CALL
    assert (event.dropped_calls, event.dropped_text) == ([], "All done!")


async def test_keep_first_without_a_call_to_keep_resamples(models, make_agent) -> None:
    model = models([{"text": "Still thinking"}, {"text": "Done.</think>\n" + CRIBS_CALL}])
    agent = make_agent(
        model, transport="completions", violations=ViolationPolicy(strategy="keep_first")
    )

    step = await agent.act([HELLO], seed=1)

    assert step.turn == CRIBS.model_copy(update={"reasoning": "Done."})
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.UNTERMINATED_REASONING
    assert event.violation.reasoning == "Still thinking"
    assert event.action_taken == "resample"
    assert [body["seed"] for body in request_bodies(model)] == [1, 2]


async def test_terminate_ends_the_episode_at_the_first_violation(models, make_agent) -> None:
    model = models([{"content": TWO_CALLS}, {"content": CRIBS_CALL}])
    agent = make_agent(model, thinking=False, violations=ViolationPolicy(strategy="terminate"))

    step = await agent.act([HELLO])

    assert isinstance(step, GaveUpStep)
    [event] = violations(step.events)
    assert event.action_taken == "terminate"
    assert len(model.requests) == 1


async def test_structured_response_with_two_calls_is_a_violation(models, make_agent) -> None:
    second = {**STRUCTURED_CRIBS, "arguments": {"booking_id": "B11246", "count": 2}}
    model = models([{"tool_calls": [STRUCTURED_CRIBS, second]}, {"tool_calls": [STRUCTURED_CRIBS]}])
    agent = make_agent(model, style="template", violations=ViolationPolicy(strategy="feedback"))

    step = await agent.act([HELLO])

    assert step.turn == CRIBS
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.MULTIPLE_TOOL_CALLS
    assert [c.arguments_json for c in event.generation.raw_tool_calls] == [
        '{"booking_id": "B11246", "count": 3}',
        '{"booking_id": "B11246", "count": 2}',
    ]
    assert step.record is not None and step.record.generation is not None
    echo = step.record.generation.correction_messages[0]
    assert echo == ChatAssistantMessage(
        content="",
        tool_calls=[
            ChatToolCall(function=FunctionCallPayload(name=c.name, arguments=c.arguments))
            for c in (CRIBS, CRIBS_2)
        ],
    )


async def test_structured_response_with_text_and_a_call_keeps_only_the_call(
    models, make_agent
) -> None:
    model = models([{"content": "Adding three cribs.", "tool_calls": [STRUCTURED_CRIBS]}])
    agent = make_agent(model, style="template", violations=ViolationPolicy(strategy="keep_first"))

    step = await agent.act([HELLO])

    assert step.turn == CRIBS
    assert isinstance(step.record, AgentToolCall)
    assert step.record.content is None
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.TEXT_WITH_TOOL_CALL
    assert event.dropped_text == "Adding three cribs."


async def test_structured_response_with_broken_arguments_is_malformed(models, make_agent) -> None:
    broken = {"name": "request_cribs", "arguments": '{"booking_id": "B1'}
    model = models([{"tool_calls": [broken]}])
    agent = make_agent(
        model, style="template", violations=ViolationPolicy(strategy="keep_first", max_attempts=1)
    )

    step = await agent.act([HELLO])

    assert isinstance(step.turn, Violation)
    assert step.turn.code is ViolationCode.MALFORMED_TOOL_CALL
    [event] = violations(step.events)
    assert event.action_taken == "terminate"


async def test_reasoning_cut_off_at_max_tokens_is_truncated_not_empty(models, make_agent) -> None:
    model = models([{"reasoning": "Let me think about the", "finish_reason": "length"}])
    agent = make_agent(model, violations=ViolationPolicy(max_attempts=1))

    step = await agent.act([HELLO])

    assert isinstance(step.turn, Violation)
    assert step.turn.code is ViolationCode.TRUNCATED


async def test_feedback_on_a_cut_off_call_says_it_was_cut_off(models, make_agent) -> None:
    unclosed = CRIBS_CALL[: CRIBS_CALL.index("</parameter>")]
    model = models([{"content": unclosed, "finish_reason": "length"}, {"content": CRIBS_CALL}])
    agent = make_agent(model, thinking=False, violations=ViolationPolicy(strategy="feedback"))

    step = await agent.act([HELLO])

    assert step.turn == CRIBS
    [event] = violations(step.events)
    assert event.violation.code is ViolationCode.TRUNCATED
    correction = request_bodies(model)[1]["messages"][-1]
    assert correction["role"] == "user"
    assert "was cut off at the token limit" in correction["content"]
    assert "never closed" not in correction["content"]  # the parser's reason misleads


async def test_a_completion_cut_off_at_max_tokens_is_truncated(models, make_agent) -> None:
    model = models([{"text": "Fine.</think>\nViolations none", "finish_reason": "length"}])
    agent = make_agent(
        model, transport="completions", violations=ViolationPolicy(strategy="terminate")
    )

    step = await agent.act([HELLO])

    assert isinstance(step, GaveUpStep)
    assert step.turn.code is ViolationCode.TRUNCATED
    assert step.turn.content == "Violations none"


async def test_a_violation_records_what_the_servers_vllm_would_have_run(models, make_agent) -> None:
    unclosed = CRIBS_CALL.replace("</tool_call>", "")
    model = models([{"text": unclosed}, {"text": "Hello."}])
    agent = make_agent(model, thinking=False, transport="completions")

    step = await agent.act([HELLO])

    [event] = violations(step.events)
    assert event.violation.code == ViolationCode.MALFORMED_TOOL_CALL
    assert event.vllm_would == VllmReading(profile="vllm-0.17", calls=[CRIBS])


async def test_two_calls_are_what_vllm_would_run_and_a_call_it_cannot_read_is_no_reading(
    models, make_agent
) -> None:
    nameless = "<tool_call>\n<function=request_cribs\n</tool_call>"
    model = models([{"content": TWO_CALLS}, {"content": nameless}, {"content": "Hello."}])
    agent = make_agent(model, thinking=False)

    step = await agent.act([HELLO])

    two, unread = violations(step.events)
    assert two.vllm_would == VllmReading(profile="vllm-0.17", calls=[CRIBS, CRIBS_2])
    assert unread.violation.code == ViolationCode.MALFORMED_TOOL_CALL
    assert unread.vllm_would is None
