"""`record_tokens`: the request fields each vLLM release accepts, and the ids and logprobs kept.

Over real HTTP against the scripted server (its byte-level stand-in tokenizer, documented in
policy_agent/scripted/_tokenizer.py), on each path litellm 1.106.2 takes: one hosted_vllm server
(`_direct`), litellm's `acompletion` (another provider prefix), and one of several replicas; and
in process through `ScriptedModelClient`.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import JsonValue

from policy_agent.llm import (
    LLMClient,
    ModelConfig,
    TokensNotReturned,
    close_connections,
    token_trace,
)
from policy_agent.scripted import Script, ScriptedModelClient

from .conftest import Serve, config

PROMPT = "<|im_start|>user\nI need a crib.<|im_end|>\n<|im_start|>assistant\n<think>\n"
RAW = "A crib.\n</think>\nWhich booking?"
CHAT = {"reasoning": "A crib.", "content": "Which booking?"}


def stand_in_logprob(token_id: int) -> float:
    """policy_agent/scripted/_tokenizer.py's rule, restated: -((t % 32) + 1) / 64."""
    return -((token_id % 32) + 1) / 64


def _client(server: Any, how: str, **fields: Any) -> LLMClient:
    if how == "direct":
        model = config(server, record_tokens=True, **fields)
    elif how == "acompletion":
        model = ModelConfig(
            model="openai/agent",
            api_base=server.base_url,
            api_key_env="SCRIPTED_KEY",
            retry_backoff=0,
            timeout=5,
            record_tokens=True,
            **fields,
        )
    else:
        model = ModelConfig(
            model="hosted_vllm/agent",
            api_bases=(server.base_url, server.base_url.replace("127.0.0.1", "localhost")),
            retry_backoff=0,
            timeout=5,
            record_tokens=True,
            **fields,
        )
    return LLMClient(model, role="agent")


PATHS = ["direct", "acompletion", "replicas"]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_KEY", "anything")


@pytest.mark.parametrize("how", PATHS)
async def test_completions_keep_the_prompt_ids_the_sampled_ids_and_their_logprobs(
    serve: Serve, how: str
) -> None:
    server = await serve({"agent": {"answers": [{"text": RAW}]}})
    client = _client(server, how)
    completion = await client.complete(PROMPT)
    await client.aclose()
    [request] = server.requests
    assert isinstance(request.body, dict)
    assert request.body["return_token_ids"] is True
    assert request.body["logprobs"] == 0  # a count on /v1/completions: the sampled token only
    trace = completion.tokens
    assert trace is not None
    assert trace.prompt_token_ids == list(PROMPT.encode())
    assert trace.completion_token_ids == list(RAW.encode())
    assert trace.completion_logprobs == [stand_in_logprob(t) for t in RAW.encode()]
    generation = completion.generation(transport="completions", seed=None, attempt=1)
    assert generation.tokens == trace
    assert generation.usage.prompt_tokens == len(PROMPT.encode())


@pytest.mark.parametrize("how", PATHS)
async def test_chat_keeps_the_ids_litellm_moves_and_the_response_level_prompt_ids(
    serve: Serve, how: str
) -> None:
    server = await serve({"agent": {"answers": [CHAT]}})
    client = _client(server, how)
    messages = [{"role": "user", "content": "I need a crib."}]
    completion = await client.chat(messages)
    await client.aclose()
    [request] = server.requests
    assert isinstance(request.body, dict)
    assert request.body["return_token_ids"] is True
    assert request.body["logprobs"] is True  # a flag on chat
    trace = completion.tokens
    assert trace is not None
    sampled = list(b"A crib.</think>Which booking?")
    assert trace.completion_token_ids == sampled
    assert trace.completion_logprobs == [stand_in_logprob(t) for t in sampled]
    assert trace.prompt_token_ids is not None
    assert bytes(trace.prompt_token_ids).decode().startswith('[{"role": "user"')


async def test_cached_prompt_tokens_come_from_the_usage_details(serve: Serve) -> None:
    server = await serve({"agent": {"answers": [{"text": RAW}] * 2}}, prompt_tokens_details=True)
    client = LLMClient(config(server), role="agent")
    first = await client.complete(PROMPT * 4)
    second = await client.complete(PROMPT * 4 + "more")
    await client.aclose()
    assert first.usage.cached_prompt_tokens == 0
    # 4 x 73 bytes = 292: 18 whole 16-token blocks were in the first prompt.
    assert second.usage.cached_prompt_tokens == 288
    generation = second.generation(transport="completions", seed=None, attempt=1)
    assert generation.usage.cached_prompt_tokens == 288


async def test_no_token_fields_are_asked_or_kept_without_the_switch(serve: Serve) -> None:
    server = await serve({"agent": {"answers": [{"text": RAW}]}})
    client = LLMClient(config(server), role="agent")
    completion = await client.complete(PROMPT)
    await client.aclose()
    [request] = server.requests
    assert isinstance(request.body, dict)
    assert "return_token_ids" not in request.body and "logprobs" not in request.body
    assert completion.tokens is None
    assert completion.generation(transport="completions", seed=None, attempt=1).tokens is None


async def test_a_server_without_token_ids_warns_once_and_keeps_null_fields(serve: Serve) -> None:
    server = await serve({"agent": {"answers": [{"text": RAW}] * 2}}, return_token_ids=False)
    client = LLMClient(config(server, record_tokens=True), role="agent")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = await client.complete(PROMPT)
        second = await client.complete(PROMPT)
    await client.aclose()
    ours = [w.message for w in caught if isinstance(w.message, TokensNotReturned)]
    assert len(ours) == 1
    assert "agent (hosted_vllm/agent)" in str(ours[0])
    for completion in (first, second):
        assert completion.text == RAW
        assert completion.tokens is not None
        assert completion.tokens.model_dump() == {
            "prompt_token_ids": None,
            "completion_token_ids": None,
            "completion_logprobs": None,
        }


def test_extra_body_may_not_set_the_token_fields_record_tokens_sends() -> None:
    with pytest.raises(ValueError, match="extra_body sets return_token_ids: use the field"):
        ModelConfig(model="hosted_vllm/a", record_tokens=True, extra_body={"return_token_ids": 1})


@pytest.mark.parametrize("transport", ["chat", "completions"])
async def test_the_in_process_double_returns_the_same_fields(transport: str) -> None:
    script = Script.model_validate({"roles": {"agent": {"answers": [{"text": RAW, **CHAT}]}}})
    model = ModelConfig(model="hosted_vllm/agent", record_tokens=True)
    client = ScriptedModelClient(script, model)
    if transport == "chat":
        completion = await client.chat([{"role": "user", "content": "I need a crib."}])
        sampled = list(b"A crib.</think>Which booking?")
    else:
        completion = await client.complete(PROMPT)
        sampled = list(RAW.encode())
    assert completion.tokens is not None
    assert completion.tokens.completion_token_ids == sampled
    assert completion.tokens.completion_logprobs == [stand_in_logprob(t) for t in sampled]
    assert completion.tokens.complete


def test_a_trace_reads_vllm_layouts_and_refuses_what_is_not_ids() -> None:
    # vLLM 0.17.1 chat_completion/protocol.py: ChatCompletionResponseChoice.token_ids,
    # ChatCompletionLogProbsContent.logprob; completion/protocol.py: CompletionLogProbs.
    chat: dict[str, JsonValue] = {
        "token_ids": [5, 6],
        "logprobs": {"content": [{"logprob": -0.5}, {"logprob": -1}]},
    }
    assert token_trace(chat, [1, 2], chat=True).model_dump() == {
        "prompt_token_ids": [1, 2],
        "completion_token_ids": [5, 6],
        "completion_logprobs": [-0.5, -1.0],
    }
    text: dict[str, JsonValue] = {
        "token_ids": [5],
        "prompt_token_ids": [1],
        "logprobs": {"token_logprobs": [None], "tokens": ["x"]},
    }
    assert token_trace(text, None, chat=False).completion_logprobs == [None]
    broken: dict[str, JsonValue] = {"token_ids": ["5"], "logprobs": "nope"}
    trace = token_trace(broken, [True], chat=True)
    assert (trace.prompt_token_ids, trace.completion_token_ids, trace.completion_logprobs) == (
        None,
        None,
        None,
    )


# vLLM 0.33.0 vllm/entrypoints/generate/base/protocol.py: PerRequestMetrics, on the chat and the
# completions response when the server runs with --enable-per-request-metrics (0.25.0 on).
METRICS = {
    "time_to_first_token_ms": 12.5,
    "generation_time_ms": 80.0,
    "queue_time_ms": 0.5,
    "mean_itl_ms": 4.0,
    "tokens_per_second": 250.0,
    "speculative_decoding": None,
}


@pytest.fixture
async def metrics_server() -> AsyncIterator[str]:
    """A bare server answering as vLLM 0.33.0 does with per-request metrics."""

    def envelope(kind: str, choice: dict[str, Any]) -> dict[str, Any]:
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        return {
            "id": "x",
            "object": kind,
            "created": 1,
            "model": "agent",
            "choices": [choice],
            "usage": usage,
            "metrics": METRICS,
        }

    async def chat(request: web.Request) -> web.Response:
        message = {"role": "assistant", "content": "hi", "tool_calls": []}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return web.json_response(envelope("chat.completion", choice))

    async def text(request: web.Request) -> web.Response:
        choice = {"index": 0, "text": "hi", "finish_reason": "stop"}
        return web.json_response(envelope("text_completion", choice))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/completions", text)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}/v1"
    finally:
        await close_connections()
        await runner.cleanup()


async def test_the_servers_timings_are_kept_on_both_transports(metrics_server: str) -> None:
    client = LLMClient(config(metrics_server), role="agent")
    chat = await client.chat([{"role": "user", "content": "x"}])
    text = await client.complete(PROMPT)
    await client.aclose()
    numbers = {k: v for k, v in METRICS.items() if v is not None}
    assert chat.server_timing == numbers
    assert text.server_timing == numbers
    generation = text.generation(transport="completions", seed=None, attempt=1)
    assert generation.server_timing == numbers
