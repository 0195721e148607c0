"""Every failure becomes a typed error naming role and model; retries are ours and are recorded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from policy_agent.llm import (
    Completion,
    ContextLengthExceeded,
    LLMClient,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    MissingAPIKey,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)

from .conftest import Serve, closed_port_url, config

MESSAGES = [{"role": "user", "content": "hi"}]
OK = {"content": "fine", "text": "fine"}
# vLLM's 400 when prompt plus max_tokens exceed --max-model-len.
CONTEXT_ERROR = {
    "error": {
        "message": "This model's maximum context length is 4096 tokens. However, you requested "
        "5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length "
        "of the messages or completion.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
}


async def call(client: LLMClient, transport: str) -> Completion:
    if transport == "chat":
        return await client.chat(MESSAGES)
    return await client.complete("<|im_start|>user\nhi<|im_end|>\n")


TRANSPORTS = pytest.mark.parametrize("transport", ["chat", "completions"])


@TRANSPORTS
async def test_a_500_is_retried_and_the_failed_attempt_is_recorded(
    serve: Serve, transport: str
) -> None:
    server = await serve({"agent": {"answers": [{"fault": {"status": 500}}, OK]}})
    completion = await call(LLMClient(config(server), role="agent"), transport)
    assert completion.text == "fine"
    [attempt] = completion.attempts
    assert (attempt.attempt, attempt.error_type) == (1, "ServerError")
    assert attempt.message == "scripted fault: HTTP 500"
    assert attempt.api_base == server.base_url
    assert attempt.latency_ms > 0
    assert len(server.requests) == 2


@TRANSPORTS
async def test_500s_beyond_the_retries_raise_server_error_naming_role_and_model(
    serve: Serve, transport: str
) -> None:
    server = await serve(
        {"judge": {"answers": [{"fault": {"status": 503}}], "when_exhausted": "repeat_last"}}
    )
    client = LLMClient(config(server, "judge", retries=2), role="judge")
    with pytest.raises(ServerError) as caught:
        await call(client, transport)
    error = caught.value
    assert str(error).startswith(
        f"judge model hosted_vllm/judge at {server.base_url}: "
        "the server failed (after 3 attempts): scripted fault: HTTP 503\n"
    )
    assert "check the vLLM server's log" in str(error)
    assert (error.role, error.model, error.status) == ("judge", "hosted_vllm/judge", 503)
    assert [a.attempt for a in error.attempts] == [1, 2, 3]
    assert len(server.requests) == 3


@TRANSPORTS
async def test_429_is_rate_limited(serve: Serve, transport: str) -> None:
    server = await serve({"agent": {"answers": [{"fault": {"status": 429}}]}})
    with pytest.raises(RateLimited, match="Lower the run's concurrency") as caught:
        await call(LLMClient(config(server, retries=0), role="agent"), transport)
    assert caught.value.status == 429


@TRANSPORTS
async def test_a_hang_past_the_timeout_is_llm_timeout(serve: Serve, transport: str) -> None:
    server = await serve({"agent": {"answers": [{"hang": True}]}})
    with pytest.raises(LLMTimeout) as caught:
        await call(LLMClient(config(server, timeout=0.3, retries=0), role="agent"), transport)
    assert "No answer within 0.3 s: raise `timeout`" in str(caught.value)


@TRANSPORTS
async def test_a_server_that_is_down_is_unreachable(serve: Serve, transport: str) -> None:
    url = closed_port_url()
    client = LLMClient(config(url, "user", retries=1), role="user")
    with pytest.raises(ServerUnreachable) as caught:
        await call(client, transport)
    message = str(caught.value)
    assert message.startswith(
        f"user model hosted_vllm/user at {url}: cannot reach the server (after 2 attempts)"
    )
    assert f"Is the vLLM server running at {url}? Start it with `vllm serve" in message


async def test_an_unknown_host_is_unreachable() -> None:
    client = LLMClient(config("http://no-such-host.invalid:8000/v1", retries=0), role="agent")
    with pytest.raises(ServerUnreachable):
        await client.chat(MESSAGES)


@TRANSPORTS
async def test_vllm_context_length_error_is_not_retried(serve: Serve, transport: str) -> None:
    fault = {"fault": {"status": 400, "body": CONTEXT_ERROR}}
    server = await serve({"agent": {"answers": [fault, OK]}})
    with pytest.raises(ContextLengthExceeded) as caught:
        await call(LLMClient(config(server, retries=2), role="agent"), transport)
    assert "This model's maximum context length is 4096 tokens" in str(caught.value)
    assert "larger --max-model-len" in str(caught.value)
    assert len(server.requests) == 1


@TRANSPORTS
async def test_another_4xx_is_rejected_without_retry(serve: Serve, transport: str) -> None:
    body = {
        "error": {"message": "temperature must be >= 0", "type": "BadRequestError", "code": 400}
    }
    server = await serve({"agent": {"answers": [{"fault": {"status": 400, "body": body}}, OK]}})
    with pytest.raises(RequestRejected, match="temperature must be >= 0") as caught:
        await call(LLMClient(config(server), role="agent"), transport)
    assert caught.value.status == 400
    assert len(server.requests) == 1


async def test_an_unknown_model_name_says_how_to_find_the_served_name(serve: Serve) -> None:
    server = await serve({"agent": {"answers": [OK]}})
    client = LLMClient(config(server, "nvidia/Nemotron"), role="agent")
    with pytest.raises(RequestRejected) as caught:
        await client.chat(MESSAGES)
    assert caught.value.status == 404
    assert "--served-model-name" in str(caught.value)


@TRANSPORTS
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 200, "body": '{"id": "cmpl-1", "choices": [{"index": 0, "mess'},
        {"status": 200, "body": "<html>It works!</html>", "content_type": "text/html"},
        {
            "status": 200,
            "body": {
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "agent",
                "choices": [],
            },
        },
        # No `choices` at all: litellm 1.106.2 turns a text completion without them into one
        # empty choice, which must not pass for an answer of the completions transport.
        {"status": 200, "body": {"id": "x", "object": "text_completion", "model": "agent"}},
    ],
    ids=["truncated-json", "html", "no-choices", "no-choices-field"],
)
async def test_a_2xx_that_is_not_a_completion_is_malformed_and_retried(
    serve: Serve, transport: str, fault: dict[str, Any]
) -> None:
    server = await serve({"agent": {"answers": [{"fault": fault}, {"fault": fault}]}})
    with pytest.raises(
        MalformedResponse, match="Is `api_base` an OpenAI-compatible server"
    ) as caught:
        await call(LLMClient(config(server, retries=1), role="agent"), transport)
    assert len(caught.value.attempts) == 2


@TRANSPORTS
async def test_a_body_trickled_past_the_timeout_is_llm_timeout(
    serve: Serve, transport: str
) -> None:
    # Headers at once, then a byte every 50 ms: each read is quick, the answer takes ~15 s,
    # some 60 times the (short, so that the two attempts are brief) timeout.
    slow = {"content": "fine", "text": "fine", "trickle_ms": 50}
    server = await serve({"agent": {"answers": [slow, slow]}})
    with pytest.raises(LLMTimeout) as caught:
        await call(LLMClient(config(server, timeout=0.25, retries=1), role="agent"), transport)
    assert str(caught.value).startswith(
        f"agent model hosted_vllm/agent at {server.base_url}: no answer in time (after 2 "
        "attempts): timed out after 0.25 s\nNo answer within 0.25 s: raise `timeout`"
    )
    assert [a.error_type for a in caught.value.attempts] == ["LLMTimeout", "LLMTimeout"]


@TRANSPORTS
async def test_a_trickled_body_within_the_timeout_is_an_answer(
    serve: Serve, transport: str
) -> None:
    server = await serve({"agent": {"answers": [OK | {"trickle_ms": 1}]}})
    completion = await call(LLMClient(config(server, timeout=60), role="agent"), transport)
    assert completion.text == "fine"


async def test_an_openai_model_without_a_key_is_never_sent_and_not_retried(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = await serve({"gpt": {"answers": [OK]}})
    client = LLMClient(
        config(server, "gpt", retries=2).model_copy(update={"model": "openai/gpt"}), role="user"
    )
    with pytest.raises(MissingAPIKey) as caught:
        await client.chat(MESSAGES)
    message = str(caught.value)
    # litellm 1.106.2 wraps the OpenAI SDK's refusal (openai/_client.py) as a 500.
    assert message.startswith(
        f"user model openai/gpt at {server.base_url}: the API key is missing: the request was "
        "never sent: it needs an API key and the role's model config names no `api_key_env` "
        "(Missing credentials. Please pass an `api_key`"
    )
    assert "give the role `api_key_env: NAME`" in message
    assert "OpenAI-compatible" not in message
    assert len(caught.value.attempts) == 1
    assert server.requests == []


# llama.cpp's 400 for a prompt beyond its context (tools/server, ERROR_TYPE_EXCEED_CONTEXT_SIZE:
# format_error_response names the type, the slot check writes the message).
LLAMA_CPP_CONTEXT_ERROR = {
    "error": {
        "code": 400,
        "message": "request (4476 tokens) exceeds the available context size (4096 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 4476,
        "n_ctx": 4096,
    }
}


@pytest.mark.parametrize(
    ("model", "body", "fix"),
    [
        (
            "hosted_vllm/agent",
            CONTEXT_ERROR,
            "Serve the model with a larger --max-model-len (vLLM)",
        ),
        (
            "openai/agent",
            LLAMA_CPP_CONTEXT_ERROR,
            "Start llama.cpp's server with a larger --ctx-size (-c; with --parallel N each "
            "request gets 1/N of it)",
        ),
        (
            "openai/agent",
            CONTEXT_ERROR,
            "Give the server a larger context window (vLLM: --max-model-len; SGLang: "
            "--context-length; llama.cpp: --ctx-size)",
        ),
    ],
    ids=["vllm", "llama.cpp", "another-server"],
)
async def test_a_context_overflow_says_what_to_change_for_the_server_in_use(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, model: str, body: dict[str, Any], fix: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "any")
    server = await serve({"agent": {"answers": [{"fault": {"status": 400, "body": body}}]}})
    client = LLMClient(config(server).model_copy(update={"model": model}), role="agent")
    with pytest.raises(ContextLengthExceeded) as caught:
        await client.chat(MESSAGES)
    assert caught.value.advice() == (
        f"{fix}, lower `max_tokens`, or end episodes earlier (fewer turns)."
    )
    assert len(caught.value.attempts) == 1
    assert caught.value.retried == ()


def test_a_context_overflow_of_a_hosted_api_asks_for_a_larger_model() -> None:
    error = ContextLengthExceeded(role="user", model="openai/gpt-4.1", detail="too long")
    assert error.advice().startswith("Use a model with a larger context window, lower")


@TRANSPORTS
async def test_the_model_the_server_says_it_served_is_kept(serve: Serve, transport: str) -> None:
    # A llama.cpp server answers whatever model a request names, with its own name.
    server = await serve({"any": {"answers": [OK]}}, single_model="qwen")
    client = LLMClient(config(server, "nvidia/Nemotron-Cascade-2-30B-A3B"), role="agent")
    completion = await call(client, transport)
    assert (completion.model, completion.served_model) == (
        "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B",
        "qwen",
    )
    generation = completion.generation(transport="chat", seed=None, attempt=1)
    assert (generation.model, generation.served_model) == (completion.model, "qwen")


async def test_retries_wait_with_growing_backoff(serve: Serve) -> None:
    faults = [{"fault": {"status": 500}}, {"fault": {"status": 500}}, OK]
    server = await serve({"agent": {"answers": faults}})
    client = LLMClient(config(server, retry_backoff=0.1), role="agent")
    start = time.perf_counter()
    completion = await client.chat(MESSAGES)
    # Backoff 0.1 s then 0.2 s, each scaled by a jitter in [0.5, 1].
    assert time.perf_counter() - start >= 0.15
    assert len(completion.attempts) == 2


def test_every_error_is_an_llm_error_and_says_what_is_retried() -> None:
    retried = {ServerUnreachable, ServerError, RateLimited, LLMTimeout, MalformedResponse}
    final = {ContextLengthExceeded, RequestRejected}
    for kind in retried | final:
        assert issubclass(kind, LLMError)
        assert kind.retryable is (kind in retried)
