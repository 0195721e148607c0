"""The chat transport over real HTTP, through litellm, against the scripted server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy_agent.llm import (
    Completion,
    LLMClient,
    MissingAPIKey,
    RequestRejected,
    StructuredToolCall,
    Usage,
)

from .conftest import Serve, config

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a customer service agent."},
    {"role": "user", "content": "I need a crib."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_booking",
            "description": "Look up a booking.",
            "parameters": {
                "type": "object",
                "properties": {"booking_id": {"type": "string"}},
                "required": ["booking_id"],
            },
        },
    }
]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_card_style_returns_content_and_reasoning(serve: Serve, field: str) -> None:
    """vLLM >= 0.17 sends `reasoning`, older versions `reasoning_content`; both arrive."""
    answer = {"content": "Which booking?", "reasoning": "I need the booking id."}
    server = await serve({"agent": {"answers": [answer]}}, reasoning_field=field)
    completion = await LLMClient(config(server), role="agent").chat(MESSAGES, seed=7)
    assert completion.text == "Which booking?"
    assert completion.reasoning == "I need the booking id."
    assert completion.tool_calls == ()
    assert completion.finish_reason == "stop"
    assert completion.model == "hosted_vllm/agent"
    assert completion.api_base == server.base_url
    assert completion.attempts == ()
    assert completion.prompt is None
    assert completion.raw["message"]["content"] == "Which booking?"  # type: ignore[index,call-overload]
    assert completion.latency_ms > 0


async def test_card_style_request_has_no_tools_and_carries_sampling_and_thinking(
    serve: Serve,
) -> None:
    server = await serve({"agent": {"answers": ["ok"]}})
    await LLMClient(config(server), role="agent").chat(MESSAGES, seed=7)
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "agent",
        "messages": MESSAGES,
        "temperature": 1.0,
        "top_p": 0.95,
        "seed": 7,
        "chat_template_kwargs": {"enable_thinking": True},
    }


async def test_instruct_mode_and_vllm_extras_reach_the_server(serve: Serve) -> None:
    server = await serve({"agent": {"answers": ["ok"], "when_exhausted": "repeat_last"}})
    client = LLMClient(
        config(
            server,
            thinking=False,
            temperature=0.6,
            max_tokens=256,
            top_k=20,
            min_p=0.05,
            repetition_penalty=1.05,
            skip_special_tokens=False,
            chat_template_kwargs={"truncate_history_thinking": False},
            extra_body={"priority": 3},
        ),
        role="agent",
    )
    await client.chat(MESSAGES)
    await client.chat(MESSAGES)
    # The second request is the same: nothing the client reuses was changed by the first call.
    first, second = (r.body for r in server.requests)
    assert first == second
    body = first
    assert isinstance(body, dict)
    assert "seed" not in body
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 256,
        "top_k": 20,
        "min_p": 0.05,
        "repetition_penalty": 1.05,
        "skip_special_tokens": False,
        "priority": 3,
        "chat_template_kwargs": {"truncate_history_thinking": False, "enable_thinking": False},
    }


async def test_template_style_passes_tools_and_returns_the_parsed_calls(serve: Serve) -> None:
    answer = {
        "content": "Let me look.",
        "reasoning": "Look it up.",
        "tool_calls": [
            {"name": "get_booking", "arguments": {"booking_id": "B11246"}, "id": "call_9"}
        ],
    }
    server = await serve({"agent": {"answers": [answer]}})
    completion = await LLMClient(config(server), role="agent").chat(MESSAGES, tools=TOOLS)
    assert server.requests[0].body["tools"] == TOOLS  # type: ignore[index,call-overload]
    assert completion.tool_calls == (
        StructuredToolCall(
            name="get_booking", arguments_json='{"booking_id": "B11246"}', id="call_9"
        ),
    )
    assert (completion.text, completion.reasoning) == ("Let me look.", "Look it up.")
    assert completion.finish_reason == "tool_calls"


async def test_malformed_call_arguments_are_handed_back_verbatim(serve: Serve) -> None:
    answer = {"tool_calls": [{"name": "get_booking", "arguments": '{"booking_id": "B1'}]}
    server = await serve({"agent": {"answers": [answer]}})
    completion = await LLMClient(config(server), role="agent").chat(MESSAGES, tools=TOOLS)
    assert completion.tool_calls[0].arguments_json == '{"booking_id": "B1'


async def test_cut_off_output_is_surfaced_as_finish_reason_length(serve: Serve) -> None:
    server = await serve(
        {"agent": {"answers": [{"content": "Your booking is", "finish_reason": "length"}]}}
    )
    completion = await LLMClient(config(server), role="agent").chat(MESSAGES)
    assert (completion.text, completion.finish_reason) == ("Your booking is", "length")


async def test_the_callers_messages_are_not_changed(serve: Serve) -> None:
    history = [
        *MESSAGES,
        {"role": "assistant", "content": "Which one?", "reasoning_content": None},
        {"role": "user", "content": "B11246"},
    ]
    before = copy.deepcopy(history)
    server = await serve({"agent": {"answers": ["ok"]}})
    await LLMClient(config(server), role="agent").chat(history)
    assert history == before


async def test_usage_and_cost_come_from_the_server_and_the_configured_prices(serve: Serve) -> None:
    server = await serve({"agent": {"answers": ["ok"], "when_exhausted": "repeat_last"}})
    client = LLMClient(
        config(server, price_per_input_token=1e-6, price_per_output_token=4e-6), role="agent"
    )
    completion = await client.chat(MESSAGES)
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens > 0
    assert completion.cost_usd == pytest.approx(
        usage.prompt_tokens * 1e-6 + usage.completion_tokens * 4e-6
    )
    assert (await LLMClient(config(server), role="agent").chat(MESSAGES)).cost_usd is None


async def test_the_api_key_comes_from_the_named_environment_variable(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await serve(
        {"agent": {"answers": ["ok"], "when_exhausted": "repeat_last"}}, require_api_key="k-123"
    )
    monkeypatch.setenv("POLICY_AGENT_TEST_KEY", "k-123")
    client = LLMClient(config(server, api_key_env="POLICY_AGENT_TEST_KEY"), role="agent")
    assert "k-123" not in repr(client)
    assert (await client.chat(MESSAGES)).text == "ok"

    monkeypatch.setenv("POLICY_AGENT_TEST_KEY", "wrong")
    wrong = LLMClient(config(server, api_key_env="POLICY_AGENT_TEST_KEY", retries=2), role="agent")
    with pytest.raises(RequestRejected) as caught:
        await wrong.chat(MESSAGES)
    assert caught.value.status == 401
    assert "environment variable named by `api_key_env`" in str(caught.value)
    assert len(caught.value.attempts) == 1

    monkeypatch.delenv("POLICY_AGENT_TEST_KEY")
    with pytest.raises(MissingAPIKey, match="POLICY_AGENT_TEST_KEY"):
        LLMClient(config(server, api_key_env="POLICY_AGENT_TEST_KEY"), role="judge")


def test_completion_defaults() -> None:
    completion = Completion(text="x", model="m")
    assert completion.usage == Usage()
    assert (completion.tool_calls, completion.attempts, completion.raw) == ((), (), {})
