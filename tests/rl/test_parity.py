"""A scripted policy scores the same through `policy-agent run`, `PolicyEnv` and `serve-env`.

Two policies over every hotel task: the oracle's actions as completions (every task passes),
and a sloppy one that skips each task's first tool call (a mix of rewards). The run gets them
from the scripted server over HTTP (by seed, as a replay does); the env and the server get them
from the test, as a trainer would give its model's completions.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import DomainPack
from policy_agent.records import Episode
from policy_agent.rl import EnvServer, PolicyEnv, TrainerSimulation
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.simulation import episode_seed
from tests.rl._support import HOTEL, model_config

FILLER = "Checking.\n</think>\nIs there anything else I can help you with?"
"""What the sloppy policy says once its completions run out (the user then ends it)."""


def sloppy(completions: list[str]) -> list[str]:
    """Skip the first tool call, and keep talking until the episode ends."""
    first_call = next((i for i, text in enumerate(completions) if "<tool_call>" in text), None)
    kept = [t for i, t in enumerate(completions) if i != first_call]
    return kept + [FILLER] * 40


POLICIES = {"oracle": lambda texts: list(texts), "sloppy": sloppy}


def run_rewards(tmp_path: Path, policy: dict[str, list[str]]) -> dict[str, Episode]:
    """`policy-agent run` with the agent's completions from the scripted server, over HTTP."""
    answers = {
        episode_seed(0, task, 0): [{"text": text} for text in texts]
        for task, texts in policy.items()
    }
    script = Script.model_validate({"roles": {"agent": {"mode": "by_seed", "answers": answers}}})
    with ScriptedServer(script) as server:
        agent = {
            "model": {"model": "hosted_vllm/agent", "api_base": server.base_url, "retries": 0},
            "transport": "completions",
        }
        config: dict[str, Any] = {
            "domain": str(HOTEL),
            "agent": agent,
            "user": {"kind": "scripted"},
            "out": str(tmp_path / "runs"),
        }
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        result = CliRunner().invoke(main, ["run", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    [directory] = (tmp_path / "runs").iterdir()
    lines = (directory / "episodes.jsonl").read_text().splitlines()
    return {e.task_id: e for e in (Episode.model_validate_json(line) for line in lines)}


def env_rewards(pack: DomainPack, policy: dict[str, list[str]]) -> dict[str, Episode]:
    """Each task played through `PolicyEnv`, the completions given one step at a time."""
    env = PolicyEnv(model_config(), pack)
    played = {}
    try:
        for task, texts in policy.items():
            observation, info = env.reset(options={"task": task, "trial": 0})
            for number, text in enumerate(texts):
                assert observation["turn"] == number
                observation, reward, terminated, truncated, info = env.step(text)
                if terminated or truncated:
                    break
            assert terminated or truncated, f"{task}: the policy ran out of completions"
            episode = info["episode"]
            assert reward == (episode.reward.reward if episode.reward else 0.0)
            played[task] = episode
    finally:
        env.close()
    return played


async def served_rewards(pack: DomainPack, policy: dict[str, list[str]]) -> dict[str, Any]:
    """Every task at once through `serve-env`'s HTTP API; the final step's JSON per task."""
    server = EnvServer(TrainerSimulation(model_config(), pack))
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site.port}/v1"

    async def play(session: aiohttp.ClientSession, task: str, texts: list[str]) -> Any:
        async with session.post(f"{base}/reset", json={"task": task}) as answer:
            assert answer.status == 200
            body = await answer.json()
        key = body["episode_id"]
        for text in texts:
            async with session.post(
                f"{base}/step", json={"episode_id": key, "completion": text}
            ) as answer:
                assert answer.status == 200, await answer.text()
                body = await answer.json()
            if body["terminated"] or body["truncated"]:
                return body
        raise AssertionError(f"{task}: the policy ran out of completions")

    try:
        async with aiohttp.ClientSession() as session:
            finals = await asyncio.gather(
                *(play(session, task, texts) for task, texts in policy.items())
            )
        assert server.episodes == 0  # every finished episode was freed
    finally:
        await runner.cleanup()
    return dict(zip(policy, finals, strict=True))


@pytest.mark.parametrize("name", POLICIES)
def test_a_scripted_policy_scores_the_same_in_the_run_the_env_and_the_server(
    policy: tuple[DomainPack, dict[str, list[str]]], tmp_path: Path, name: str
) -> None:
    pack, completions = policy
    chosen = {task: POLICIES[name](texts) for task, texts in completions.items()}
    ran = run_rewards(tmp_path, chosen)
    played = env_rewards(pack, chosen)
    served = asyncio.run(served_rewards(pack, chosen))
    assert sorted(ran) == sorted(played) == sorted(served) == sorted(t.id for t in pack.tasks)
    for task, episode in ran.items():
        assert episode.reward is not None
        other = played[task]
        assert other.reward is not None
        assert other.termination_reason == episode.termination_reason, task
        assert other.reward.reward == episode.reward.reward, task
        assert other.reward.reward_breakdown == episode.reward.reward_breakdown, task
        assert other.messages[-1].model_dump(exclude={"timestamp", "generation"}) == (
            episode.messages[-1].model_dump(exclude={"timestamp", "generation"})
        )
        final = served[task]
        assert final["reward"] == episode.reward.reward, task
        assert final["info"]["termination_reason"] == episode.termination_reason.value
        assert final["info"]["reward_breakdown"] == json.loads(
            json.dumps({str(k): v for k, v in episode.reward.reward_breakdown.items()})
        )
    rewards = sorted(e.reward.reward for e in ran.values() if e.reward is not None)
    if name == "oracle":
        assert rewards == [1.0] * len(ran)
    else:
        assert rewards[0] == 0.0  # skipping a lookup costs some tasks their reward
