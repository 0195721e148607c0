"""`serve-env` over real HTTP: concurrent episodes, bad requests answered 4xx, idle ones freed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import DomainPack
from policy_agent.llm import ModelConfig
from policy_agent.rl import EnvServer, TrainerSimulation
from policy_agent.scripted import Script, ScriptedModelClient
from tests.rl._support import HOTEL, model_config

TASK = "card_triplet_cribs"
DEADLINE_S = 60.0
"""How long to wait for something the server does in the background (a slow, shared machine)."""

Post = Callable[[str, Any], Awaitable[tuple[int, Any]]]


@asynccontextmanager
async def serving(server: EnvServer) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        timeout = aiohttp.ClientTimeout(total=2 * DEADLINE_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            yield f"http://127.0.0.1:{site.port}/v1", session
    finally:
        await runner.cleanup()


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    async with session.post(url, data=data, headers=headers) as answer:
        return answer.status, await answer.json()


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not await check():
        assert time.monotonic() < deadline, "the server did not get there in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("reset", b"{not json", 400, "/v1/reset: not a ResetRequest: body: Invalid JSON"),
        ("reset", {"task": TASK, "trial": -1}, 400, "trial: Input should be greater than"),
        ("reset", {"task": TASK, "temperature": 1}, 400, "temperature: Extra inputs"),
        ("reset", {"task": "nope"}, 404, "no task 'nope'; the tasks are: "),
        ("step", {"completion": "hi"}, 400, "episode_id: Field required"),
        ("step", {"episode_id": "x", "completion": 5}, 400, "completion.str: Input should be"),
        ("step", {"episode_id": "x", "completion": "hi"}, 404, "no episode 'x' in play"),
        ("close", {"episode_id": "x"}, 404, "no episode 'x' in play"),
    ],
)
async def test_bad_requests_are_answered_4xx_with_what_is_wrong(
    policy: tuple[DomainPack, dict[str, list[str]]],
    path: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    pack, _ = policy
    async with serving(EnvServer(TrainerSimulation(model_config(), pack))) as (base, session):
        got, answer = await post(session, f"{base}/{path}", body)
    assert got == status
    assert message in answer["error"]


async def test_an_episode_is_played_closed_and_then_unknown(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, completions = policy
    async with serving(EnvServer(TrainerSimulation(model_config(), pack))) as (base, session):
        async with session.get(f"{base}/tasks") as answer:
            assert (await answer.json())["tasks"] == [t.id for t in pack.tasks]
        async with session.get(f"{base}/schemas") as answer:
            schemas = await answer.json()
        assert schemas["StepRequest"]["required"] == ["episode_id", "completion"]
        assert "ResetResponse" in schemas and "ErrorResponse" in schemas
        status, first = await post(session, f"{base}/reset", {"task": TASK})
        assert status == 200
        assert first["observation"]["prompt"].endswith("<|im_start|>assistant\n<think>\n")
        assert (first["reward"], first["terminated"], first["truncated"]) == (0.0, False, False)
        key = first["episode_id"]
        body = {"episode_id": key, "completion": {"text": completions[TASK][0]}}
        status, step = await post(session, f"{base}/step", body)
        assert status == 200 and step["observation"]["turn"] == 1
        assert "<tool_call>" in completions[TASK][0]  # the oracle looks the guest up first
        assert [r["kind"] for r in step["info"]["records"]] == ["agent_tool_call", "tool_result"]
        assert await post(session, f"{base}/close", {"episode_id": key}) == (200, {"closed": True})
        status, gone = await post(session, f"{base}/step", body)
        assert status == 404 and "it ended, was closed" in gone["error"]


async def test_an_abandoned_episode_is_freed_after_the_idle_timeout(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, _ = policy
    server = EnvServer(TrainerSimulation(model_config(), pack), idle_timeout_s=0.2)
    async with serving(server) as (base, session):
        _, first = await post(session, f"{base}/reset", {"task": TASK})
        assert server.episodes == 1

        async def freed() -> bool:
            async with session.get(f"{base.removesuffix('/v1')}/health") as answer:
                return bool((await answer.json())["episodes"] == 0)

        await until(freed)
        body = {"episode_id": first["episode_id"], "completion": "hello"}
        status, gone = await post(session, f"{base}/step", body)
    assert status == 404 and "idle longer than 0.2 s" in gone["error"]


async def test_a_full_server_refuses_new_episodes(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, _ = policy
    server = EnvServer(TrainerSimulation(model_config(), pack), max_episodes=1)
    async with serving(server) as (base, session):
        assert (await post(session, f"{base}/reset", {"task": TASK}))[0] == 200
        status, refused = await post(session, f"{base}/reset", {"task": TASK})
    assert status == 503 and "maximum of 1 episodes" in refused["error"]


async def test_a_second_step_while_the_first_is_answered_is_a_conflict(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, _ = policy
    # The user's model opens, then never answers again: the step that asks it stays under way.
    answers = [{"content": "I need two cribs for booking B11246."}, {"hang": True}]
    script = Script.model_validate({"roles": {"user": {"answers": answers}}})
    user_model = ModelConfig(model="hosted_vllm/user", timeout=600, retries=0)
    user = ScriptedModelClient(script, user_model, role="user")
    config = model_config(user={"kind": "llm", "model": user_model.model_dump(mode="json")})
    simulation = TrainerSimulation(config, pack, clients={"user": user})
    async with serving(EnvServer(simulation)) as (base, session):
        _, first = await post(session, f"{base}/reset", {"task": TASK})
        message = "Happy to help.\n</think>\nMay I have your full name?"
        body = {"episode_id": first["episode_id"], "completion": message}
        answering = asyncio.ensure_future(post(session, f"{base}/step", body))

        async def asked() -> bool:
            return len(user.requests) == 2

        await until(asked)
        status, conflict = await post(session, f"{base}/step", body)
        assert status == 409 and "a step of it is still under way" in conflict["error"]
        assert await post(session, f"{base}/close", {"episode_id": first["episode_id"]}) == (
            200,
            {"closed": True},
        )
        status, closed = await answering
        assert status == 409 and "closed while this step was under way" in closed["error"]


def test_the_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "policy_agent", "serve-env", str(HOTEL), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith(f"Serving {HOTEL} as an RL environment at http://127.0.0.1:")
        base = first.rsplit(" ", 1)[1].strip()
        assert process.stdout.readline().startswith("24 tasks (GET /v1/tasks)")
        request = urllib.request.Request(
            f"{base}/reset",
            data=json.dumps({"task": TASK}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.load(answer)["observation"]["turn"] == 0
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.endswith("Stopped.\n")


def test_the_command_refuses_a_remote_host_and_an_oracle_config(tmp_path: Any) -> None:
    result = CliRunner().invoke(main, ["serve-env", str(HOTEL), "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "add --allow-remote if you mean it" in result.output
    config = tmp_path / "oracle.yaml"
    config.write_text(f"domain: {HOTEL}\nagent: {{kind: oracle}}\nuser: {{kind: scripted}}\n")
    result = CliRunner().invoke(main, ["serve-env", str(HOTEL), "--config", str(config)])
    assert result.exit_code == 1 and "needs a model agent config" in result.output
