"""Several api_bases for one role: litellm's Router spreads the calls over the replicas."""

from __future__ import annotations

from collections import Counter

import pytest

from policy_agent.llm import LLMClient, ModelConfig, RateLimited, ServerError
from tests._models import HTTP_TIMEOUT_S

from .conftest import Serve

MESSAGES = [{"role": "user", "content": "hi"}]
ALWAYS_OK = {
    "agent": {"answers": [{"content": "ok", "text": "ok"}], "when_exhausted": "repeat_last"}
}


def replicas(*base_urls: str, **fields: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "model": "hosted_vllm/agent",
            "api_bases": list(base_urls),
            "retry_backoff": 0,
            "timeout": HTTP_TIMEOUT_S,
        }
        | fields
    )


async def test_both_replicas_get_traffic_on_both_transports(serve: Serve) -> None:
    first, second = await serve(ALWAYS_OK), await serve(ALWAYS_OK)
    client = LLMClient(replicas(first.base_url, second.base_url, top_k=20), role="agent")
    answered: Counter[str | None] = Counter()
    for _ in range(20):
        completion = await client.chat(MESSAGES, seed=1)
        answered[completion.api_base] += 1
    for _ in range(10):
        completion = await client.complete("P")
        assert completion.text == "ok"
    # 30 uniform picks all landing on one replica: probability 2 * 2**-30.
    assert first.requests and second.requests
    assert len(first.requests) + len(second.requests) == 30
    assert set(answered) <= {first.base_url, second.base_url}
    chat_body = next(
        r.body for r in first.requests + second.requests if r.path == "/v1/chat/completions"
    )
    assert isinstance(chat_body, dict)
    assert (chat_body["model"], chat_body["seed"], chat_body["top_k"]) == ("agent", 1, 20)
    assert chat_body["chat_template_kwargs"] == {"enable_thinking": True}


async def test_a_failing_replica_is_named_in_the_error(serve: Serve) -> None:
    failing = {"agent": {"answers": [{"fault": {"status": 500}}], "when_exhausted": "repeat_last"}}
    first, second = await serve(failing), await serve(failing)
    client = LLMClient(replicas(first.base_url, second.base_url, retries=1), role="agent")
    with pytest.raises(ServerError) as caught:
        await client.chat(MESSAGES)
    assert caught.value.api_base in {first.base_url, second.base_url}
    assert {a.api_base for a in caught.value.attempts} <= {first.base_url, second.base_url}
    assert len(first.requests) + len(second.requests) == 2


async def test_every_replica_cooling_down_after_429s_is_rate_limited(serve: Serve) -> None:
    """litellm's Router benches a replica that answered 429; with none left it refuses to call."""
    limited = {"agent": {"answers": [{"fault": {"status": 429}}], "when_exhausted": "repeat_last"}}
    first, second = await serve(limited), await serve(limited)
    client = LLMClient(replicas(first.base_url, second.base_url, retries=3), role="agent")
    with pytest.raises(RateLimited) as caught:
        await client.chat(MESSAGES)
    assert "All deployments for selected model are in cooldown" in str(caught.value)
    assert (len(first.requests), len(second.requests)) == (1, 1)
    assert [a.error_type for a in caught.value.attempts] == ["RateLimited"] * 4
