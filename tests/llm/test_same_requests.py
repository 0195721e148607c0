"""LLMClient calls litellm's provider handlers for one vLLM server instead of `acompletion`:
the server must receive exactly what `litellm.acompletion` / `atext_completion` would send."""

from __future__ import annotations

import copy
from typing import Any

import litellm
import openai
import pytest

from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.llm._litellm import (
    DIRECT_SWITCH,
    direct_path_enabled,
    pinned_release_installed,
)

from .conftest import Serve, config

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_booking",
            "description": "Look up a booking.",
            "parameters": {
                "type": "object",
                "properties": {"booking_id": {"type": "string"}},
                "required": ["booking_id"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
# What litellm tidies before sending: a developer message, None fields, a tool round trip.
HISTORY: list[dict[str, Any]] = [
    {"role": "developer", "content": "Follow the policy."},
    {"role": "system", "content": "You are a customer service agent."},
    {"role": "user", "content": "Is my booking B1 confirmed?"},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_booking", "arguments": '{"booking_id": "B1"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "confirmed"}'},
    {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]},
]
ANSWERS = {"agent": {"answers": [{"content": "ok", "text": "ok"}], "when_exhausted": "repeat_last"}}


def bare_kwargs(model: ModelConfig, *, chat: bool) -> dict[str, Any]:
    """The litellm call LLMClient stands for."""
    kwargs: dict[str, Any] = {
        "model": model.model,
        "api_base": model.api_base,
        "temperature": model.temperature,
        "top_p": model.top_p,
        "timeout": model.timeout,
        "extra_body": model.request_extras(chat=chat),
    }
    if model.max_tokens is not None:
        kwargs["max_tokens"] = model.max_tokens
    if chat:
        kwargs["_skip_mcp_handler"] = True  # else litellm imports its MCP gateway for tools=
    return kwargs


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "thinking": False,
            "temperature": 0.6,
            "max_tokens": 64,
            "top_k": 20,
            "skip_special_tokens": False,
            "chat_template_kwargs": {"truncate_history_thinking": False},
            "extra_body": {"priority": 2},
        },
    ],
    ids=["defaults", "every-field"],
)
async def test_chat_sends_what_acompletion_sends(serve: Serve, fields: dict[str, Any]) -> None:
    server = await serve(ANSWERS)
    model = config(server, **fields)
    client = LLMClient(model, role="agent")
    await client.chat(copy.deepcopy(HISTORY), seed=3)
    await client.chat(copy.deepcopy(HISTORY), tools=copy.deepcopy(TOOLS))
    bare = bare_kwargs(model, chat=True)
    await litellm.acompletion(messages=copy.deepcopy(HISTORY), seed=3, **bare)
    await litellm.acompletion(messages=copy.deepcopy(HISTORY), tools=copy.deepcopy(TOOLS), **bare)
    ours, theirs = server.requests[:2], server.requests[2:]
    assert [r.body for r in ours] == [r.body for r in theirs]
    assert ours[1].body["tools"][0]["function"]["parameters"] == {  # type: ignore[index,call-overload]
        "type": "object",
        "properties": {"booking_id": {"type": "string"}},
        "required": ["booking_id"],
    }


async def test_completions_send_what_atext_completion_sends(serve: Serve) -> None:
    server = await serve(ANSWERS)
    model = config(server, max_tokens=512, skip_special_tokens=False, top_k=20)
    client = LLMClient(model, role="agent")
    await client.complete("<|im_start|>user\nhi<|im_end|>\n", seed=5)
    await client.complete("<|im_start|>user\nhi<|im_end|>\n", stop=("</think>", "<|im_end|>"))
    await client.aclose()
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0)
    bare = bare_kwargs(model, chat=False)
    prompt = "<|im_start|>user\nhi<|im_end|>\n"
    await litellm.atext_completion(prompt=prompt, stop=["<|im_end|>"], seed=5, client=sdk, **bare)
    await litellm.atext_completion(
        prompt=prompt, stop=["</think>", "<|im_end|>"], client=sdk, **bare
    )
    await sdk.close()
    ours, theirs = server.requests[:2], server.requests[2:]
    assert [r.body for r in ours] == [r.body for r in theirs]


async def test_without_the_direct_path_the_requests_are_the_same(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an installed litellm other than the pinned one gets: acompletion for one server.
    server = await serve(ANSWERS)
    model = config(server, top_k=20)
    direct = LLMClient(model, role="agent")
    monkeypatch.setenv(DIRECT_SWITCH, "off")
    public = LLMClient(model, role="agent")
    for client in (direct, public):
        await client.chat(copy.deepcopy(HISTORY), tools=copy.deepcopy(TOOLS), seed=3)
        await client.complete("<|im_start|>user\nhi<|im_end|>\n", seed=5)
        await client.aclose()

    assert (direct.path, public.path) == ("direct", "acompletion")
    first, second = server.requests[:2], server.requests[2:]
    assert [r.body for r in first] == [r.body for r in second]


def test_litellms_internals_are_used_on_the_pinned_release_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pinned_release_installed("1.106.2")
    assert not pinned_release_installed("1.106.3")
    assert not pinned_release_installed("1.82.6")
    assert pinned_release_installed() and direct_path_enabled()
    monkeypatch.setenv(DIRECT_SWITCH, "off")
    assert not direct_path_enabled()
