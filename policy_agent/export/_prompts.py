"""The agent of a finished run, made again only to rebuild what its model saw.

`Agent` is the one place that knows the agent's system prompt and how its turns are rendered, so
exports ask it rather than rebuild prompts themselves. Its model client is never called.
"""

from __future__ import annotations

from policy_agent.agent import Agent, AgentConfig
from policy_agent.domain import DomainPack
from policy_agent.format import profile_named
from policy_agent.llm import ModelConfig
from policy_agent.simulation import ModelAgentConfig, SimulationConfig

ORACLE_FORMAT = AgentConfig(model=ModelConfig(model="oracle"))
"""The format an oracle run is exported in: the oracle calls no model, so its turns are shown
as the default agent format would show them (chat transport, card style, thinking on)."""


def prompt_agent(
    config: SimulationConfig, pack: DomainPack, *, profile: str | None = None
) -> Agent:
    """An agent with the run's format (transport, style, thinking) on `pack`'s policy and tools.

    `profile` is the server profile the run used (run.json's `agent_server`): template-style
    prompts depend on it. The API key variable is dropped from the model config: no call is
    made, so none is needed.
    """
    agent = config.agent
    if isinstance(agent, ModelAgentConfig):
        keyless = agent.model.model_copy(update={"api_key_env": None})
        settings = AgentConfig.model_validate(
            agent.model_dump(exclude={"kind", "model"}) | {"model": keyless}
        )
    else:
        settings = ORACLE_FORMAT
    return Agent.from_pack(
        pack, settings, profile=profile_named(profile) if profile is not None else None
    )
