"""A scripted server per test and agents pointed at it over real HTTP (litellm, no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from policy_agent.agent import Agent, AgentConfig, ViolationPolicy
from policy_agent.domain import DomainPack, load_pack
from policy_agent.llm import ModelConfig, close_connections
from policy_agent.scripted import Script, ScriptedServer
from tests.agent._support import HOTEL, POLICY, TOOLS


@pytest.fixture(scope="session")
def hotel() -> DomainPack:
    """The shipped hotel pack."""
    return load_pack(HOTEL)


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


MakeAgent = Callable[..., Agent]


@pytest.fixture
async def make_agent() -> AsyncIterator[MakeAgent]:
    """`make_agent(server_or_url, transport=..., style=..., ...)`: an agent on the tiny policy
    (or on `pack=`), with fast retries; closes every client at the end."""
    agents: list[Agent] = []

    def make(
        server: ScriptedServer | str,
        *,
        transport: str = "chat",
        style: str = "card",
        thinking: bool = True,
        violations: ViolationPolicy | None = None,
        pack: DomainPack | None = None,
        model_name: str = "hosted_vllm/agent",
        **model: Any,
    ) -> Agent:
        api_base = server if isinstance(server, str) else server.base_url
        settings: dict[str, Any] = {"timeout": 5, "retries": 0, "retry_backoff": 0, **model}
        config = AgentConfig(
            model=ModelConfig(model=model_name, api_base=api_base, thinking=thinking, **settings),
            transport=transport,  # type: ignore[arg-type]  # tests pass the literal strings
            style=style,  # type: ignore[arg-type]
            violations=violations or ViolationPolicy(),
        )
        agent = (
            Agent.from_pack(pack, config)
            if pack is not None
            else Agent(policy=POLICY, tools=TOOLS, config=config)
        )
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.client.aclose()
    await close_connections()
