"""A scripted policy for every hotel task: the oracle's actions, written as the model writes them.

The oracle performs each task's expected actions; `policy_completions` turns an oracle episode's
agent turns into raw completions (`reasoning\\n</think>\\n` then the message or the tool call,
FORMAT.md's layout), so a model agent that is given them plays the oracle's episode again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack, load_pack
from policy_agent.format import render_tool_call
from policy_agent.records import AgentMessage, AgentToolCall, Episode
from policy_agent.simulation import Simulation, SimulationConfig

REPOSITORY = Path(__file__).resolve().parents[2]
HOTEL = REPOSITORY / "domains" / "hotel"


def model_config(**fields: Any) -> SimulationConfig:
    """The hotel pack, a model agent in card style, the scripted user."""
    data: dict[str, Any] = {
        "domain": str(HOTEL),
        "agent": {"model": {"model": "hosted_vllm/agent"}, "transport": "completions"},
        "user": {"kind": "scripted"},
    }
    return SimulationConfig.model_validate(data | fields)


def oracle_episodes(pack: DomainPack) -> list[Episode]:
    """Every hotel task played by the oracle (the scripted user), in the pack's order."""
    config = SimulationConfig.model_validate(
        {"domain": str(HOTEL), "agent": {"kind": "oracle"}, "user": {"kind": "scripted"}}
    )

    async def play() -> list[Episode]:
        simulation = Simulation(config, pack)
        try:
            return [await simulation.play(planned) for planned in simulation.episodes]
        finally:
            await simulation.aclose()

    return asyncio.run(play())


def policy_completions(episode: Episode, greeting: str | None) -> list[str]:
    """The raw completions that make a model agent take `episode`'s agent turns."""
    texts = []
    for index, record in enumerate(episode.messages):
        if index < episode.initial_messages:
            continue  # the task's message history: given, not generated
        if index == 0 and greeting is not None and isinstance(record, AgentMessage):
            continue  # the fixed greeting: no model wrote it
        if isinstance(record, AgentToolCall):
            answer = render_tool_call(record.name, record.arguments).strip()
        elif isinstance(record, AgentMessage):
            answer = record.content
        else:
            continue
        reasoning = record.reasoning or "Following the policy."
        texts.append(f"{reasoning}\n</think>\n{answer}")
    return texts


def hotel_policy() -> tuple[DomainPack, dict[str, list[str]]]:
    """The pack and, per task id, the completions of its oracle episode."""
    pack = load_pack(HOTEL)
    greeting = model_config().greeting
    return pack, {e.task_id: policy_completions(e, greeting) for e in oracle_episodes(pack)}
