"""The LLM user: its requests, turns and retries (models in process; its request and an
unreachable model over real HTTP)."""

from __future__ import annotations

import pytest

from policy_agent.llm import ServerError, ServerUnreachable
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    RetryEvent,
    ToolResult,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
)
from policy_agent.user import UserGaveUp, UserModelError, default_guidelines, system_prompt
from tests._models import closed_port_url
from tests.user._support import TASK, make_pack, request_bodies
from tests.user.conftest import MakeUser, Serve, UserModels

GREETING = AgentMessage(content="Hi! How can I help you today?")


async def test_the_user_model_gets_our_prompt_and_the_agents_words_as_user_turns(
    serve: Serve, make_llm_user: MakeUser
) -> None:
    server = await serve(["I need three cribs for B11246."])
    user = make_llm_user(server)
    history: list[ConversationRecord] = [
        GREETING,
        UserMessage(content="I need cribs."),
        AgentToolCall(
            call_id="call_1",
            name="request_cribs",
            arguments={"booking_id": "B11246", "count": 3},
            reasoning="Policy allows it.",
            content="One moment.",
        ),
        ToolResult(call_id="call_1", name="request_cribs", content="Error: At most 3 cribs."),
        AgentMessage(content="How many cribs, and for which booking?", reasoning="Ask."),
    ]
    step = await user.respond(history, seed=11)

    [body] = request_bodies(server)
    assert body["messages"] == [
        {
            "role": "system",
            "content": system_prompt(default_guidelines(tools=False), TASK.user_scenario),
        },
        {"role": "user", "content": "Hi! How can I help you today?"},
        {"role": "assistant", "content": "I need cribs."},
        {"role": "user", "content": "How many cribs, and for which booking?"},
    ]
    assert "tools" not in body
    assert body["seed"] == 11
    assert body["model"] == "user"
    assert isinstance(step.record, UserMessage)
    assert step.record.content == "I need three cribs for B11246."
    assert step.stop is None and step.events == ()
    generation = step.record.generation
    assert generation is not None
    assert (generation.model, generation.transport, generation.seed, generation.attempt) == (
        "hosted_vllm/user",
        "chat",
        11,
        1,
    )
    assert step.totals.calls == 1
    assert step.totals.prompt_tokens > 0 and step.totals.completion_tokens > 0
    assert step.totals.latency_ms > 0 and step.totals.cost_usd is None


async def test_a_guidelines_override_replaces_ours(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models(["Hello."])
    user = make_llm_user(model, guidelines="Be a pirate.")
    await user.respond([GREETING], seed=None)
    [body] = request_bodies(model)
    assert body["messages"][0]["content"].startswith("Be a pirate.\n\n<scenario>\nPersona:")
    assert "seed" not in body


@pytest.mark.parametrize(
    ("said", "signal"),
    [
        ("That's everything, thank you! ###STOP###", "stop"),
        ("###TRANSFER###", "transfer"),
        ("I was never told my member number. ###OUT-OF-SCOPE###", "out_of_scope"),
    ],
)
async def test_stop_tokens_end_the_call_and_stay_in_the_text(
    models: UserModels, make_llm_user: MakeUser, said: str, signal: str
) -> None:
    model = models([said])
    step = await make_llm_user(model).respond([GREETING], seed=0)
    assert step.stop == signal
    assert isinstance(step.record, UserMessage) and step.record.content == said


async def test_reasoning_left_in_the_content_is_not_said(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    raw = "<think>Reveal the id only when asked.</think>\n\nHi, I need cribs."
    model = models([{"content": raw, "reasoning": "parsed thoughts"}])
    step = await make_llm_user(model).respond([GREETING], seed=0)
    assert isinstance(step.record, UserMessage)
    assert step.record.content == "Hi, I need cribs."
    assert step.record.generation is not None
    assert step.record.generation.raw_completion == raw
    assert step.record.generation.raw_reasoning == "parsed thoughts"


async def test_an_empty_turn_is_asked_again_with_the_next_seed(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models([{"content": "   "}, "Hello, I need cribs."])
    step = await make_llm_user(model).respond([GREETING], seed=40)

    first, second = request_bodies(model)
    assert (first["seed"], second["seed"]) == (40, 41)
    assert first["messages"] == second["messages"]
    [event] = step.events
    assert isinstance(event, UserRetryEvent)
    assert (event.attempt, event.raw_completion) == (1, "   ")
    assert event.reason == "empty: no message and no tool call"
    assert isinstance(step.record, UserMessage) and step.record.content == "Hello, I need cribs."
    assert step.record.generation is not None and step.record.generation.attempt == 2
    assert step.totals.calls == 2


UNUSABLE = [
    ({"reasoning": "Only thoughts, no answer."}, "empty: no message and no tool call"),
    ({"content": "<think>Still deciding"}, "the reasoning (<think>) never ended"),
    (
        {"content": "Hello, I need", "finish_reason": "length"},
        "cut off at max_tokens (finish_reason `length`)",
    ),
    (
        {"content": "Let me check.", "tool_calls": [{"name": "check_phone"}]},
        "a message and a tool call in one turn",
    ),
    (
        {"tool_calls": [{"name": "check_phone"}, {"name": "set_airplane_mode"}]},
        "2 tool calls (check_phone, set_airplane_mode)",
    ),
    (
        {"tool_calls": [{"name": "set_airplane_mode", "arguments": '{"on": tr'}]},
        """the arguments of set_airplane_mode are not a JSON object: '{"on": tr'""",
    ),
    (
        {"tool_calls": [{"name": "set_airplane_mode", "arguments": "[true]"}]},
        "the arguments of set_airplane_mode are not a JSON object: '[true]'",
    ),
]


@pytest.mark.parametrize(("answer", "reason"), UNUSABLE)
async def test_unusable_turns_are_asked_again(
    models: UserModels, make_llm_user: MakeUser, answer: dict[str, object], reason: str
) -> None:
    model = models([answer, "Hello."])
    user = make_llm_user(model, pack=make_pack(user_tools=True))
    step = await user.respond([GREETING], seed=1)
    [event] = step.events
    assert isinstance(event, UserRetryEvent)
    assert event.reason.startswith(reason)
    assert isinstance(step.record, UserMessage) and step.record.content == "Hello."


async def test_a_tool_call_when_the_user_has_no_tools_is_asked_again(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models([{"tool_calls": [{"name": "check_phone"}]}, "Hello."])
    step = await make_llm_user(model).respond([GREETING], seed=1)
    [event] = step.events
    assert isinstance(event, UserRetryEvent)
    assert event.reason == "a tool call (check_phone), but domain telecom gives the user no tools"


async def test_the_user_gives_up_after_max_retries(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models(["", "", "", "Too late."])
    user = make_llm_user(model, max_retries=2)
    with pytest.raises(UserGaveUp) as raised:
        await user.respond([GREETING], seed=5)
    message = str(raised.value)
    assert message.startswith(
        "task cribs_1: the user model hosted_vllm/user gave no usable turn in 3 attempts "
        "(the last: empty: no message and no tool call)"
    )
    assert "user.max_retries" in message
    assert [b["seed"] for b in request_bodies(model)] == [5, 6, 7]
    events = raised.value.events
    assert [e.attempt for e in events if isinstance(e, UserRetryEvent)] == [1, 2, 3]
    assert raised.value.totals.calls == 3


async def test_a_user_cut_off_every_time_is_told_to_raise_max_tokens(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    cut = {"content": "Hello, I need", "finish_reason": "length"}
    model = models([cut, cut])
    with pytest.raises(UserGaveUp) as raised:
        await make_llm_user(model, max_retries=1).respond([GREETING], seed=5)
    assert str(raised.value) == (
        "task cribs_1: the user model hosted_vllm/user gave no usable turn in 2 attempts (the "
        "last: cut off at max_tokens (finish_reason `length`)); raise the user model's "
        "`max_tokens` (user.model.max_tokens; unset, the server's context window is the limit)"
    )
    assert "guidelines" not in str(raised.value)


async def test_no_retries_means_the_first_unusable_turn_gives_up(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models(["", "Never asked."])
    with pytest.raises(UserGaveUp, match="in 1 attempt "):
        await make_llm_user(model, max_retries=0).respond([GREETING], seed=None)
    assert len(model.requests) == 1


async def test_a_model_error_carries_the_turns_events(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models(["", {"fault": {"status": 500}}, {"fault": {"status": 503}}])
    user = make_llm_user(model, retries=1)
    with pytest.raises(UserModelError) as raised:
        await user.respond([GREETING], seed=0)
    error = raised.value
    assert isinstance(error.error, ServerError)
    assert error.error.role == "user"
    assert str(error) == str(error.error)
    # The retried attempt is a retry; the last, failed one is the error itself.
    kinds = [type(event) for event in error.events]
    assert kinds == [UserRetryEvent, RetryEvent]
    assert [e.attempt for e in error.events if isinstance(e, RetryEvent)] == [1]
    assert [a.attempt for a in error.error.attempts] == [1, 2]
    assert error.totals.calls == 1


async def test_an_unreachable_model_is_a_model_error(make_llm_user: MakeUser) -> None:
    user = make_llm_user(closed_port_url())
    with pytest.raises(UserModelError) as raised:
        await user.respond([GREETING], seed=0)
    assert isinstance(raised.value.error, ServerUnreachable)
    assert raised.value.events == []  # one attempt, not retried: the failure, not a retry
    [attempt] = raised.value.error.attempts
    assert attempt.error_type == "ServerUnreachable"


async def test_retries_that_then_pass_are_recorded_before_the_turn(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models([{"fault": {"status": 500}}, "Hello."])
    step = await make_llm_user(model, retries=1).respond([GREETING], seed=0)
    [event] = step.events
    assert isinstance(event, RetryEvent) and event.error_type == "ServerError"
    assert isinstance(step.record, UserMessage)


async def test_user_tool_calls_get_their_own_ids(
    models: UserModels, make_llm_user: MakeUser
) -> None:
    model = models([{"tool_calls": [{"name": "set_airplane_mode", "arguments": {"on": False}}]}])
    user = make_llm_user(model, pack=make_pack(user_tools=True))
    earlier = UserToolCall(call_id="user_call_1", name="check_phone", arguments={})
    history: list[ConversationRecord] = [
        GREETING,
        earlier,
        ToolResult(call_id="user_call_1", name="check_phone", content="{}", requestor="user"),
        AgentToolCall(call_id="call_1", name="check_line", arguments={"line_id": "L1"}),
    ]
    step = await user.respond(history, seed=0)
    assert isinstance(step.record, UserToolCall)
    assert (step.record.call_id, step.record.name, step.record.arguments) == (
        "user_call_2",
        "set_airplane_mode",
        {"on": False},
    )
    assert step.stop is None
