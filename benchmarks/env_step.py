"""CPU per step of the RL environment, next to a bare tool call.

The policy is the oracle's actions as completions (`policy_agent.rl.oracle_policy`), over every
hotel task, so each step is a real one: the agent's prompt rendered and checked, the completion
parsed with the one-action parser, a tool run or the scripted user answering, and at each
episode's end the evaluation (amortized over its steps). Measured with `time.process_time()`:

- a bare tool call: `EpisodeEnvironment.call` of the same tool calls, nothing else;
- `TrainerSimulation` (async, in process), `PolicyEnv.step` (gymnasium, its own event loop);
- `serve-env` over HTTP: the server in its own process, its CPU read from /proc, per step.

    python benchmarks/env_step.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _support import HOTEL, machine_load, table

from policy_agent.domain import load_pack
from policy_agent.environment import Environment
from policy_agent.format import parse_completion
from policy_agent.records import ToolCall
from policy_agent.rl import PolicyEnv, TrainerSimulation, oracle_policy
from policy_agent.simulation import SimulationConfig

CONFIG = SimulationConfig.model_validate(
    {
        "domain": str(HOTEL),
        "agent": {"model": {"model": "hosted_vllm/policy"}, "transport": "completions"},
        "user": {"kind": "scripted"},
    }
)


def bare_tool_calls(policy: dict[str, list[str]], rounds: int) -> tuple[float, int]:
    """CPU and count of the policy's tool calls, run on fresh episode environments."""
    pack = load_pack(HOTEL)
    environment = Environment.from_pack(pack)
    tasks = {task.id: task for task in pack.tasks}
    functions = TrainerSimulation(CONFIG, pack).agent.functions
    calls = {
        task: [
            turn
            for text in texts
            if isinstance(turn := parse_completion(text, functions, thinking=True), ToolCall)
        ]
        for task, texts in policy.items()
    }
    count, start = 0, time.process_time()
    for _ in range(rounds):
        for task, turns in calls.items():
            episode = environment.new_episode(tasks[task])
            for turn in turns:
                episode.call(turn.name, turn.arguments, requestor="assistant")
                count += 1
    return time.process_time() - start, count


async def in_process(policy: dict[str, list[str]], rounds: int) -> tuple[float, int]:
    simulation = TrainerSimulation(CONFIG, load_pack(HOTEL))
    steps, start = 0, time.process_time()
    for _ in range(rounds):
        for task, texts in policy.items():
            episode, outcome = await simulation.start(task)
            for text in texts:
                outcome = await episode.step(text)
                steps += 1
                if outcome.prompt is None:
                    break
    return time.process_time() - start, steps


def gym_env(policy: dict[str, list[str]], rounds: int) -> tuple[float, int]:
    env = PolicyEnv(CONFIG)
    steps, start = 0, time.process_time()
    for _ in range(rounds):
        for task, texts in policy.items():
            env.reset(options={"task": task})
            for text in texts:
                _, _, terminated, truncated, _ = env.step(text)
                steps += 1
                if terminated or truncated:
                    break
    env.close()
    return time.process_time() - start, steps


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(url: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        result: dict[str, object] = json.load(answer)
        return result


def served(policy: dict[str, list[str]], rounds: int) -> tuple[float, int]:
    """The server's own CPU per step (this process only sends requests)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "policy_agent", "serve-env", str(HOTEL), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = process.stdout.readline().rsplit(" ", 1)[1].strip()
        process.stdout.readline()
        _post(f"{base}/reset", {"task": next(iter(policy))})  # warm up: imports, first render
        steps, start = 0, _cpu_s(process.pid)
        for _ in range(rounds):
            for task, texts in policy.items():
                key = _post(f"{base}/reset", {"task": task})["episode_id"]
                for text in texts:
                    step = _post(f"{base}/step", {"episode_id": key, "completion": text})
                    steps += 1
                    if step["terminated"] or step["truncated"]:
                        break
        return _cpu_s(process.pid) - start, steps
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="Passes over the 24 hotel tasks.")
    rounds = parser.parse_args().rounds
    policy = oracle_policy(CONFIG, load_pack(HOTEL))
    rows = []
    for name, measured in (
        ("bare tool call (EpisodeEnvironment.call)", bare_tool_calls(policy, rounds)),
        ("TrainerSimulation step (async, in process)", asyncio.run(in_process(policy, rounds))),
        ("PolicyEnv.step (gymnasium)", gym_env(policy, rounds)),
        ("serve-env step (server CPU, HTTP)", served(policy, rounds)),
    ):
        cpu, count = measured
        rows.append([name, count, round(cpu * 1000 / count, 3)])
    print(machine_load())
    print(table(["what", "count", "CPU ms each"], rows))


if __name__ == "__main__":
    main()
