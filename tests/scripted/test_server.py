"""The scripted server over real HTTP: endpoints, recording, keys, timing, threads."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from policy_agent.scripted import (
    RecordedRequest,
    RemoteHostRefused,
    Script,
    ScriptedServer,
    is_loopback,
)
from tests._waiting import DEADLINE_S, until

CHAT: dict[str, Any] = {"model": "agent", "messages": [{"role": "user", "content": "hi"}]}


def script(**fields: Any) -> Script:
    return Script.model_validate(
        {"roles": {"agent": {"answers": ["Hello"], "when_exhausted": "repeat_last"}}} | fields
    )


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with session.post(
        url, data=json.dumps(body) if not isinstance(body, bytes) else body
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_serves_chat_models_health_and_the_record_of_requests() -> None:
    async with ScriptedServer(script()) as server, aiohttp.ClientSession() as session:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.base_url.endswith("/v1")
        status, body = await post(session, f"{server.base_url}/chat/completions", CHAT)
        assert status == 200
        assert body["choices"][0]["message"]["content"] == "Hello"
        async with session.get(f"{server.base_url}/models") as response:
            assert [m["id"] for m in (await response.json())["data"]] == ["agent"]
        async with session.get(server.base_url.removesuffix("/v1") + "/health") as response:
            assert response.status == 200
        async with session.get(f"{server.base_url}/_requests") as response:
            assert await response.json() == [{"path": "/v1/chat/completions", "body": CHAT}]
        assert server.requests == [RecordedRequest(path="/v1/chat/completions", body=CHAT)]


async def test_rejects_bodies_that_are_not_json_objects_and_streaming() -> None:
    async with ScriptedServer(script()) as server, aiohttp.ClientSession() as session:
        status, body = await post(session, f"{server.base_url}/chat/completions", b"{not json")
        assert (status, body["error"]["code"]) == (400, 400)
        status, body = await post(
            session, f"{server.base_url}/completions", CHAT | {"stream": True}
        )
        assert status == 400
        assert "does not stream" in body["error"]["message"]
        assert [r.body for r in server.requests] == [None, CHAT | {"stream": True}]


async def test_require_api_key_answers_401_to_a_missing_or_wrong_key() -> None:
    async with ScriptedServer(script(require_api_key="sekrit")) as server:
        url = f"{server.base_url}/chat/completions"
        for headers, expected in [
            ({}, 401),
            ({"Authorization": "Bearer nope"}, 401),
            ({"Authorization": "Bearer sekrit"}, 200),
        ]:
            async with aiohttp.ClientSession(headers=headers) as session:
                status, _ = await post(session, url, CHAT)
                assert status == expected


async def test_the_model_list_wants_the_key_too_and_says_what_vllm_says() -> None:
    async with ScriptedServer(script(require_api_key="sekrit")) as server:
        for headers in ({}, {"Authorization": "Bearer nope"}):
            async with (
                aiohttp.ClientSession(headers=headers) as session,
                session.get(f"{server.base_url}/models") as response,
            ):
                # vLLM 0.17.1 vllm/entrypoints/openai/server_utils.py, AuthenticationMiddleware.
                assert (response.status, await response.json()) == (401, {"error": "Unauthorized"})
        async with (
            aiohttp.ClientSession(headers={"Authorization": "Bearer sekrit"}) as session,
            session.get(f"{server.base_url}/models") as response,
        ):
            assert response.status == 200


async def test_a_single_model_answers_whatever_model_a_request_names() -> None:
    llama = script(single_model="qwen2.5-0.5b")
    async with ScriptedServer(llama) as server, aiohttp.ClientSession() as session:
        asked = CHAT | {"model": "nvidia/Nemotron-Cascade-2-30B-A3B"}
        status, body = await post(session, f"{server.base_url}/chat/completions", asked)
        assert (status, body["model"]) == (200, "qwen2.5-0.5b")
        assert body["choices"][0]["message"]["content"] == "Hello"
        async with session.get(f"{server.base_url}/models") as response:
            assert [m["id"] for m in (await response.json())["data"]] == ["qwen2.5-0.5b"]


def test_a_single_model_needs_a_script_of_one_role() -> None:
    roles = {"agent": {"answers": ["a"]}, "user": {"answers": ["b"]}}
    with pytest.raises(ValueError, match="single_model serves one model, but the script has 2"):
        Script.model_validate({"single_model": "qwen", "roles": roles})


async def test_a_trickled_answer_sends_its_headers_then_its_body_byte_by_byte() -> None:
    slow = Script.model_validate(
        {"roles": {"agent": {"answers": [{"content": "Hi", "trickle_ms": 5}]}}}
    )
    async with ScriptedServer(slow) as server:
        # A read timeout far shorter than the whole body takes never fires: data keeps coming.
        timeout = aiohttp.ClientTimeout(sock_read=0.5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(f"{server.base_url}/chat/completions", json=CHAT) as response,
        ):
            assert response.status == 200
            length = int(response.headers["Content-Length"])
            chunks = [chunk async for chunk in response.content.iter_any()]
    body = b"".join(chunks)
    assert len(body) == length > 200
    assert len(chunks) > 10  # it came in pieces, not at once
    assert json.loads(body)["choices"][0]["message"]["content"] == "Hi"


def test_an_answer_cannot_both_hang_and_trickle() -> None:
    with pytest.raises(ValueError, match="either hangs or trickles its body, not both"):
        Script.model_validate({"roles": {"agent": {"answers": [{"hang": True, "trickle_ms": 1}]}}})


async def test_latency_is_applied_to_every_answer() -> None:
    async with ScriptedServer(script(latency_ms=100)) as server, aiohttp.ClientSession() as session:
        url = f"{server.base_url}/chat/completions"
        start = time.perf_counter()
        for _ in range(3):
            status, _ = await post(session, url, CHAT)
            assert status == 200
        # A lower bound only: a busy machine can make the calls slower, never faster.
        assert time.perf_counter() - start >= 0.3
        assert len(server.requests) == 3


async def test_many_concurrent_clients_are_served_together() -> None:
    # Answers that never come: all 64 requests are in the server at once before any ends.
    hanging = Script.model_validate(
        {"roles": {"agent": {"answers": [{"hang": True}], "when_exhausted": "repeat_last"}}}
    )
    server = ScriptedServer(hanging)
    await server.start()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        url = f"{server.base_url}/chat/completions"
        pending = [asyncio.create_task(post(session, url, CHAT)) for _ in range(64)]
        await until(lambda: len(server.requests) == 64, "64 requests in the server")
        assert not any(task.done() for task in pending)
        await server.stop()
        answers = await asyncio.gather(*pending)
    assert [status for status, _ in answers] == [503] * 64


async def test_a_hang_outlasts_the_client_and_is_released_when_the_server_stops() -> None:
    hanging = Script.model_validate(
        {"roles": {"agent": {"answers": [{"hang": True}], "when_exhausted": "repeat_last"}}}
    )
    server = ScriptedServer(hanging)
    await server.start()
    url = f"{server.base_url}/chat/completions"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.post(url, json=CHAT, timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
        pending = asyncio.create_task(post(session, url, CHAT))
        await until(lambda: len(server.requests) == 2, "the second request in the server")
        await server.stop()
        status, body = await asyncio.wait_for(pending, DEADLINE_S)
    assert status == 503
    assert "stopping" in body["error"]["message"]


async def test_keeps_only_the_most_recent_requests() -> None:
    async with (
        ScriptedServer(script(), keep_requests=2) as server,
        aiohttp.ClientSession() as session,
    ):
        for number in range(3):
            await post(session, f"{server.base_url}/chat/completions", CHAT | {"seed": number})
        assert [r.body["seed"] for r in server.requests if isinstance(r.body, dict)] == [1, 2]
        server.reset()
        assert server.requests == []


def test_runs_in_a_background_thread_for_synchronous_code() -> None:
    with ScriptedServer(script()) as server:
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=json.dumps(CHAT).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=DEADLINE_S) as response:
            assert json.load(response)["choices"][0]["message"]["content"] == "Hello"
        base_url = server.base_url
    assert len(server.requests) == 1
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base_url}/models", timeout=DEADLINE_S)


def test_a_port_in_use_fails_at_start() -> None:
    with ScriptedServer(script()) as first:
        port = int(first.base_url.rsplit(":", 1)[1].removesuffix("/v1"))
        with pytest.raises(OSError), ScriptedServer(script(), port=port):
            pass


def test_base_url_before_start_says_how_to_start() -> None:
    with pytest.raises(RuntimeError, match="has not started"):
        _ = ScriptedServer(script()).base_url


def test_refuses_to_listen_beyond_this_machine_unless_allowed() -> None:
    with pytest.raises(RemoteHostRefused, match="allow_remote"):
        ScriptedServer(script(), host="0.0.0.0")
    ScriptedServer(script(), host="0.0.0.0", allow_remote=True)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_tokenize_renders_the_cards_template_one_token_per_byte() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True}
    prompt = (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    async with ScriptedServer(script()) as server, aiohttp.ClientSession() as session:
        url = server.base_url.removesuffix("/v1") + "/tokenize"
        thinking = await post(
            session, url, body | {"chat_template_kwargs": {"enable_thinking": True}}
        )
        instruct = await post(
            session, url, body | {"chat_template_kwargs": {"enable_thinking": False}}
        )
        missing = await post(session, url, {"prompt": "hi"})
    on = list((prompt + "<think>\n").encode())
    off = list((prompt + "<think></think>").encode())
    assert thinking == (200, {"count": len(on), "tokens": on})
    assert instruct == (200, {"count": len(off), "tokens": off})
    assert missing[0] == 400
    assert "send `messages`" in missing[1]["error"]["message"]


async def test_tokenize_with_a_template_that_ignores_thinking_renders_it_on_either_way() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    async with (
        ScriptedServer(script(chat_template="ignores_thinking")) as server,
        aiohttp.ClientSession() as session,
    ):
        url = server.base_url.removesuffix("/v1") + "/tokenize"
        on = await post(session, url, body | {"chat_template_kwargs": {"enable_thinking": True}})
        off = await post(session, url, body | {"chat_template_kwargs": {"enable_thinking": False}})
    assert on[0] == 200
    assert on == off
    assert bytes(on[1]["tokens"]).decode().endswith("<|im_start|>assistant\n<think>\n")


async def test_tokenize_is_not_served_without_a_chat_template() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    async with (
        ScriptedServer(script(chat_template="none")) as server,
        aiohttp.ClientSession() as session,
        session.post(server.base_url.removesuffix("/v1") + "/tokenize", json=body) as response,
    ):
        assert response.status == 404
