"""Several api_bases for one role: every call of a session (an episode) goes to one replica, its
home by a stable hash; a replica that fails moves the session to the next one, for good."""

from __future__ import annotations

from collections import Counter

import pytest

from policy_agent.llm import LLMClient, ModelConfig, RateLimited, ServerError, home_replica
from policy_agent.scripted import ScriptedServer
from tests._models import HTTP_TIMEOUT_S

from .conftest import Serve

MESSAGES = [{"role": "user", "content": "hi"}]
ALWAYS_OK = {
    "agent": {"answers": [{"content": "ok", "text": "ok"}], "when_exhausted": "repeat_last"}
}
FAILING = {"agent": {"answers": [{"fault": {"status": 500}}], "when_exhausted": "repeat_last"}}


def replicas(*servers: ScriptedServer, **fields: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "model": "hosted_vllm/agent",
            "api_bases": [server.base_url for server in servers],
            "retry_backoff": 0,
            "timeout": HTTP_TIMEOUT_S,
        }
        | fields
    )


def test_a_session_has_the_same_home_in_every_run() -> None:
    """sha256 of the session id: no process-salted hash(), no random state."""
    assert [home_replica(f"task_{n}/0/7", 4) for n in range(8)] == [
        home_replica(f"task_{n}/0/7", 4) for n in range(8)
    ]
    assert home_replica("hotel_1/0/123", 4) == 3
    assert home_replica("hotel_1/1/456", 4) == 2


async def test_every_call_of_a_session_goes_to_its_home_replica(serve: Serve) -> None:
    servers = [await serve(ALWAYS_OK) for _ in range(4)]
    client = LLMClient(replicas(*servers, top_k=20), role="agent")
    sessions = [f"task_{n}/0/{n}" for n in range(12)]
    for turn in range(3):
        for session in sessions:
            if turn == 1:
                completion = await client.complete("P", session=session)
            else:
                completion = await client.chat(MESSAGES, seed=1, session=session)
            home = servers[home_replica(session, 4)].base_url
            assert completion.api_base == home
    await client.aclose()
    assert client.path == "direct"
    assert [len(server.requests) for server in servers] == [
        3 * sum(home_replica(s, 4) == index for s in sessions) for index in range(4)
    ]
    assert all(server.requests for server in servers)  # 12 sessions reach all 4 replicas
    chat_body = next(r.body for r in servers[0].requests if r.path == "/v1/chat/completions")
    assert isinstance(chat_body, dict)
    assert (chat_body["model"], chat_body["seed"], chat_body["top_k"]) == ("agent", 1, 20)
    assert chat_body["chat_template_kwargs"] == {"enable_thinking": True}


async def test_calls_without_a_session_take_the_replicas_in_turn(serve: Serve) -> None:
    first, second = await serve(ALWAYS_OK), await serve(ALWAYS_OK)
    client = LLMClient(replicas(first, second), role="agent")
    answered = Counter([(await client.chat(MESSAGES)).api_base for _ in range(6)])
    assert answered == {first.base_url: 3, second.base_url: 3}


async def test_a_failing_replica_moves_the_session_to_the_next_one_for_good(
    serve: Serve,
) -> None:
    servers = [await serve(ALWAYS_OK) for _ in range(3)]
    session = "task_a/0/1"
    home = home_replica(session, 3)
    after = (home + 1) % 3
    servers[home] = await serve(FAILING)  # the home replica answers 500 to everything
    client = LLMClient(replicas(*servers, retries=1), role="agent")
    completion = await client.chat(MESSAGES, session=session)
    assert completion.api_base == servers[after].base_url
    [failed] = completion.attempts
    assert (failed.error_type, failed.api_base, failed.moved_to) == (
        "ServerError",
        servers[home].base_url,
        servers[after].base_url,
    )
    event = failed.retry_event("hosted_vllm/agent")
    assert (event.api_base, event.moved_to) == (servers[home].base_url, servers[after].base_url)
    again = await client.complete("P", session=session)
    assert (again.api_base, again.attempts) == (servers[after].base_url, ())
    assert len(servers[home].requests) == 1


async def test_a_replica_that_stopped_listening_moves_the_session(serve: Serve) -> None:
    servers = [await serve(ALWAYS_OK) for _ in range(2)]
    session = "task_b/0/2"
    home = home_replica(session, 2)
    client = LLMClient(replicas(*servers, retries=1), role="agent")
    assert (await client.chat(MESSAGES, session=session)).api_base == servers[home].base_url
    await servers[home].stop()
    completion = await client.chat(MESSAGES, session=session)
    assert completion.api_base == servers[1 - home].base_url
    assert [(a.error_type, a.moved_to) for a in completion.attempts] == [
        ("ServerUnreachable", servers[1 - home].base_url)
    ]


async def test_every_replica_failing_names_each_in_the_error(serve: Serve) -> None:
    first, second = await serve(FAILING), await serve(FAILING)
    client = LLMClient(replicas(first, second, retries=2), role="agent")
    session = "task_c/0/3"
    home = home_replica(session, 2)
    with pytest.raises(ServerError) as caught:
        await client.chat(MESSAGES, session=session)
    bases = [first.base_url, second.base_url]
    tried = [a.api_base for a in caught.value.attempts]
    assert tried == [bases[home], bases[1 - home], bases[home]]
    assert caught.value.api_base == bases[home]
    assert (len(first.requests), len(second.requests)) == ((2, 1) if home == 0 else (1, 2))


async def test_a_rate_limited_replica_keeps_the_session(serve: Serve) -> None:
    """A 429 says the request came too soon, not that the replica is gone."""
    limited = {"agent": {"answers": [{"fault": {"status": 429}}], "when_exhausted": "repeat_last"}}
    first, second = await serve(limited), await serve(limited)
    client = LLMClient(replicas(first, second, retries=1), role="agent")
    session = "task_d/0/4"
    with pytest.raises(RateLimited) as caught:
        await client.chat(MESSAGES, session=session)
    home = [first, second][home_replica(session, 2)].base_url
    assert [(a.api_base, a.moved_to) for a in caught.value.attempts] == [(home, None)] * 2
