"""A scripted policy to smoke-test a trainer's loop: the oracle's actions, as a model writes them.

The oracle agent performs each task's expected actions (`policy-agent check`). Its episode's
agent turns, written as raw completions (`reasoning\\n</think>\\n` then the message or the
`<tool_call>`, FORMAT.md's layout), make any model agent of the same pack take those turns
again: through `PolicyEnv`, `serve-env` or a replayed run, a pack whose tasks the oracle solves
scores 1 on each.
"""

from __future__ import annotations

import asyncio

from policy_agent.domain import DomainPack
from policy_agent.format import render_tool_call
from policy_agent.records import AgentMessage, AgentToolCall, Episode
from policy_agent.simulation import OracleAgentConfig, Simulation, SimulationConfig

_REASONING = "Following the policy."
"""The reasoning of an oracle turn that has none."""


def oracle_completions(episode: Episode) -> list[str]:
    """The raw completions that make a model agent take `episode`'s agent turns.

    The task's message history and a fixed greeting are left out: no model wrote them.
    """
    texts = []
    start = episode.initial_messages
    for index, record in enumerate(episode.messages[start:], start):
        # Without a history the user speaks first, so an agent message at 0 is the greeting.
        if isinstance(record, AgentMessage) and index > 0:
            answer = record.content
        elif isinstance(record, AgentToolCall):
            answer = render_tool_call(record.name, record.arguments).strip()
        else:
            continue
        texts.append(f"{record.reasoning or _REASONING}\n</think>\n{answer}")
    return texts


def oracle_policy(config: SimulationConfig, pack: DomainPack) -> dict[str, list[str]]:
    """Per task of `config` (trial 0), the completions of the oracle's episode of it."""
    oracle = config.model_copy(update={"agent": OracleAgentConfig(kind="oracle"), "trials": 1})

    async def play() -> list[Episode]:
        simulation = Simulation(oracle, pack)
        try:
            return [await simulation.play(planned) for planned in simulation.episodes]
        finally:
            await simulation.aclose()

    return {episode.task_id: oracle_completions(episode) for episode in asyncio.run(play())}
