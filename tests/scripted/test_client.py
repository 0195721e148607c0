"""The in-process double answers as the scripted server does to a real LLMClient over HTTP.

Each case runs one script both ways — `LLMClient` (litellm) against a `ScriptedServer` on
127.0.0.1, and `ScriptedModelClient` in process — and compares what a caller sees: the text,
reasoning, tool calls, finish reason and usage of the answer, or the error's class, status and
attempts. What differs on purpose (`raw`, `api_base`, latency) is left out.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy_agent.llm import (
    Completion,
    LLMClient,
    LLMError,
    ModelClient,
    ModelConfig,
    close_connections,
)
from policy_agent.scripted import Script, ScriptedModelClient, ScriptedServer
from tests._models import HTTP_TIMEOUT_S

CALL = {"name": "request_cribs", "arguments": {"booking_id": "B11246", "count": 3}}
MESSAGES = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]

CHAT_CASES: dict[str, list[Any]] = {
    "a message with reasoning": [{"content": "Hello!", "reasoning": "Greet them."}],
    "a parsed tool call": [{"content": None, "tool_calls": [CALL]}],
    "cut off": [{"content": "Hel", "finish_reason": "length"}],
    "a server error, then an answer": [{"fault": {"status": 500}}, "Hello!"],
    "rate limited every time": [{"fault": {"status": 429}}] * 3,
    "rejected": [{"fault": {"status": 400, "body": {"error": {"message": "bad seed"}}}}],
    "context too long": [
        {
            "fault": {
                "status": 400,
                "body": {"error": {"message": "This model's maximum context length is 8 tokens"}},
            }
        }
    ],
    "garbage with status 200": [{"fault": {"status": 200, "body": "not json"}}] * 3,
    "trickled past the timeout": [{"content": "Hello!", "trickle_ms": 100}] * 3,
    "llama.cpp's context error": [
        {
            "fault": {
                "status": 400,
                "body": {
                    "error": {
                        "code": 400,
                        "message": "request (9 tokens) exceeds the available context size "
                        "(8 tokens), try increasing it",
                        "type": "exceed_context_size_error",
                    }
                },
            }
        }
    ],
}


def _seen(outcome: Completion | LLMError) -> tuple[Any, ...]:
    if isinstance(outcome, LLMError):
        return (
            type(outcome).__name__,
            outcome.status,
            [a.error_type for a in outcome.attempts],
        )
    return (
        outcome.text,
        outcome.reasoning,
        [(c.name, c.arguments_json) for c in outcome.tool_calls],
        outcome.finish_reason,
        outcome.usage,
        [a.error_type for a in outcome.attempts],
        outcome.model,
        outcome.served_model,
    )


async def _ask(client: ModelClient, *, chat: bool) -> Completion | LLMError:
    try:
        if chat:
            return await client.chat(MESSAGES, seed=7)
        return await client.complete("<|im_start|>user\nHi<|im_end|>\n", seed=7)
    except LLMError as error:
        return error


TRICKLED_TIMEOUT_S = 0.2
"""The timeout of a case whose answers trickle (100 ms a byte: 24 s of body or more, 120 times
this), short so that its three attempts over HTTP and three in process take about a second."""


async def _both(
    answers: list[Any], *, chat: bool, **fields: Any
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    script = Script.model_validate({"roles": {"agent": {"answers": answers}}, **fields})
    trickles = any(isinstance(answer, dict) and "trickle_ms" in answer for answer in answers)
    async with ScriptedServer(script) as server:
        config = ModelConfig(
            model="hosted_vllm/agent",
            api_base=server.base_url,
            retry_backoff=0,
            retries=2,
            timeout=TRICKLED_TIMEOUT_S if trickles else HTTP_TIMEOUT_S,
        )
        over_http = await _ask(LLMClient(config, role="agent"), chat=chat)
        await close_connections()
    in_process = await _ask(ScriptedModelClient(script, config, role="agent"), chat=chat)
    return _seen(over_http), _seen(in_process)


@pytest.mark.parametrize("answers", CHAT_CASES.values(), ids=CHAT_CASES.keys())
async def test_a_chat_answer_is_what_llmclient_gives_over_http(answers: list[Any]) -> None:
    over_http, in_process = await _both(answers, chat=True)

    assert in_process == over_http


@pytest.mark.parametrize(
    "answers",
    [
        [{"text": "Fine.</think>\nHello!<|im_end|>ignored"}],
        [{"fault": {"status": 503}}, {"text": "Hi"}],
        [{"content": "only chat"}],
        [{"text": "Hi", "trickle_ms": 100}] * 3,
        [{"fault": {"status": 200, "body": {"id": "cmpl-1", "object": "text_completion"}}}] * 3,
    ],
    ids=[
        "a completion cut at the stop string",
        "a retried failure",
        "an answer for chat only",
        "trickled past the timeout",
        "no choices",
    ],
)
async def test_a_completion_is_what_llmclient_gives_over_http(answers: list[Any]) -> None:
    over_http, in_process = await _both(answers, chat=False)

    assert in_process == over_http


@pytest.mark.parametrize("chat", [True, False], ids=["chat", "completions"])
async def test_a_single_model_server_names_its_own_model_either_way(chat: bool) -> None:
    over_http, in_process = await _both(
        [{"content": "Hi", "text": "Hi"}], chat=chat, single_model="qwen"
    )

    assert in_process == over_http
    assert over_http[-1] == "qwen"


async def test_it_is_a_model_client_and_records_what_it_was_asked() -> None:
    script = Script.model_validate({"roles": {"user": {"answers": ["Hi there"]}}})
    client = ScriptedModelClient(script, ModelConfig(model="openai/user", top_k=5), role="user")

    completion = await client.chat(MESSAGES, seed=3)

    assert isinstance(client, ModelClient)
    assert completion.text == "Hi there"
    [request] = client.requests
    assert request.path == "/v1/chat/completions"
    assert request.body == {
        "model": "user",
        "messages": MESSAGES,
        "seed": 3,
        "temperature": 1.0,
        "top_p": 0.95,
        "top_k": 5,
    }
