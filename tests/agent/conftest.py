"""Agents on a script: answered in process (`models`), or by a scripted server over real HTTP
(`serve`, litellm, no mocks) for the tests of what goes over the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from policy_agent.agent import Agent, AgentConfig, ViolationPolicy
from policy_agent.domain import DomainPack
from policy_agent.llm import close_connections
from policy_agent.scripted import Script, ScriptedServer
from tests._models import ScriptedModels, model_config
from tests.agent._support import POLICY, TOOLS

Serve = Callable[..., Any]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """`await serve(answers, **script_fields)`: a running server whose `agent` role gives them."""
    servers: list[ScriptedServer] = []

    async def start(answers: list[Any], **fields: Any) -> ScriptedServer:
        script = Script.model_validate({"roles": {"agent": {"answers": answers}}, **fields})
        server = ScriptedServer(script)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


AgentModels = Callable[..., ScriptedModels]


@pytest.fixture
def models() -> AgentModels:
    """`models(answers, **script_fields)`: in-process models whose `agent` role gives them."""

    def make(answers: list[Any], **fields: Any) -> ScriptedModels:
        return ScriptedModels.of({"agent": {"answers": answers}}, **fields)

    return make


MakeAgent = Callable[..., Agent]


@pytest.fixture
async def make_agent() -> AsyncIterator[MakeAgent]:
    """`make_agent(models_server_or_url, transport=..., style=..., ...)`: an agent on the tiny
    policy (or on `pack=`), no backoff; closes every client at the end."""
    agents: list[Agent] = []

    def make(
        source: ScriptedModels | ScriptedServer | str,
        *,
        transport: str = "chat",
        style: str = "card",
        thinking: bool = True,
        violations: ViolationPolicy | None = None,
        pack: DomainPack | None = None,
        model_name: str = "hosted_vllm/agent",
        **model: Any,
    ) -> Agent:
        config = AgentConfig(
            model=model_config(source, "agent", model_name=model_name, thinking=thinking, **model),
            transport=transport,  # type: ignore[arg-type]  # tests pass the literal strings
            style=style,  # type: ignore[arg-type]
            violations=violations or ViolationPolicy(),
        )
        client = (
            source.client(config.model, "agent") if isinstance(source, ScriptedModels) else None
        )
        agent = (
            Agent.from_pack(pack, config, client)
            if pack is not None
            else Agent(policy=POLICY, tools=TOOLS, config=config, client=client)
        )
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.client.aclose()
    await close_connections()
