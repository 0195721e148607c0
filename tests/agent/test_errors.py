"""Every way the model call can fail: a typed error naming role and model, events kept."""

from __future__ import annotations

import pytest

from policy_agent.agent import AgentModelError
from policy_agent.llm import (
    ContextLengthExceeded,
    LLMTimeout,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from policy_agent.records import Message, RetryEvent, UserMessage, ViolationEvent
from tests._models import closed_port_url
from tests.agent._support import CRIBS_CALL

HELLO = UserMessage(content="Hi, I need three cribs for B11246.")
CONTEXT = (
    "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
    "(4000 in the messages, 1000 in the completion). Please reduce the length of the messages "
    "or completion."
)


def answer(transport: str, text: str) -> dict[str, str]:
    return {"text": text} if transport == "completions" else {"content": text}


@pytest.mark.parametrize("transport", ["chat", "completions"])
async def test_a_server_error_is_retried_and_the_retry_recorded(
    serve, make_agent, transport: str
) -> None:
    server = await serve([{"fault": {"status": 500}}, answer(transport, "Hello!")])
    agent = make_agent(server, transport=transport, thinking=False, retries=1)

    step = await agent.act([HELLO])

    assert step.turn == Message(content="Hello!")
    [event] = step.events
    assert isinstance(event, RetryEvent)
    assert (event.attempt, event.error_type, event.model) == (1, "ServerError", "hosted_vllm/agent")
    assert event.api_base == server.base_url


async def test_failure_after_retries_keeps_every_event_of_the_turn(models, make_agent) -> None:
    two_calls = CRIBS_CALL + CRIBS_CALL
    model = models([{"content": two_calls}, {"fault": {"status": 503}}, {"fault": {"status": 502}}])
    agent = make_agent(model, thinking=False, retries=1)

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    error = raised.value
    assert isinstance(error.error, ServerError)
    assert (error.role, error.model) == ("agent", "hosted_vllm/agent")
    assert "agent model hosted_vllm/agent" in str(error)
    # The retried attempt is a retry; the last one is the failure itself (error.error).
    violation, retried = error.events
    assert isinstance(violation, ViolationEvent)
    assert violation.generation.raw_completion == two_calls
    assert isinstance(retried, RetryEvent)
    assert (retried.attempt, retried.error_type) == (1, "ServerError")
    assert [(a.attempt, a.error_type) for a in error.error.attempts] == [
        (1, "ServerError"),
        (2, "ServerError"),
    ]


async def test_an_unreachable_server(make_agent) -> None:
    agent = make_agent(closed_port_url(), retries=1)

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    assert isinstance(raised.value.error, ServerUnreachable)
    assert "Is the vLLM server running" in str(raised.value)
    assert [e.error_type for e in raised.value.events] == ["ServerUnreachable"]
    assert len(raised.value.error.attempts) == 2


async def test_a_timeout(models, make_agent) -> None:
    model = models([{"hang": True}])
    agent = make_agent(model, transport="completions", timeout=0.3)

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    assert isinstance(raised.value.error, LLMTimeout)
    assert "raise `timeout`" in str(raised.value)
    assert raised.value.events == []  # one attempt, not retried: a failure, not a retry
    [attempt] = raised.value.error.attempts
    assert attempt.error_type == "LLMTimeout"


async def test_rate_limiting_is_retried_then_reported(models, make_agent) -> None:
    model = models([{"fault": {"status": 429}}, {"fault": {"status": 429}}])
    agent = make_agent(model, retries=1)

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    assert isinstance(raised.value.error, RateLimited)
    assert [e.attempt for e in raised.value.events] == [1]


async def test_a_context_length_error_is_not_retried(models, make_agent) -> None:
    body = {"error": {"message": CONTEXT, "type": "BadRequestError", "param": None, "code": 400}}
    model = models([{"fault": {"status": 400, "body": body}}, {"content": "unused"}])
    agent = make_agent(model, retries=2)

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    assert isinstance(raised.value.error, ContextLengthExceeded)
    assert CONTEXT in str(raised.value)
    assert len(model.requests) == 1
    # Its one attempt failed and was not tried again: no retry is logged.
    assert raised.value.events == []


async def test_a_rejected_request_names_the_model(models, make_agent) -> None:
    model = models([{"content": "unused"}])
    # The server knows only the `agent` role: another model name is a 404.
    agent = make_agent(model, retries=2, transport="completions", model_name="hosted_vllm/other")

    with pytest.raises(AgentModelError) as raised:
        await agent.act([HELLO])

    assert isinstance(raised.value.error, RequestRejected)
    assert raised.value.error.status == 404
    assert "model hosted_vllm/other" in str(raised.value)
    assert len(model.requests) == 1
