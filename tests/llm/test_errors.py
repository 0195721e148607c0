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
    start = time.perf_counter()
    with pytest.raises(LLMTimeout) as caught:
        await call(LLMClient(config(server, timeout=0.3, retries=0), role="agent"), transport)
    assert time.perf_counter() - start < 3
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
    client = LLMClient(
        config("http://no-such-host.invalid:8000/v1", retries=0, timeout=2), role="agent"
    )
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
    ],
    ids=["truncated-json", "html", "no-choices"],
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
