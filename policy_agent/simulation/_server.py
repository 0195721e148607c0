"""Which vLLM release line serves the agent: named in the config, or asked of the server.

`agent.server_profile: auto` (the default) asks the agent's first server `GET /version` when a
run starts (vLLM answers `{"version": "0.21.0"}`) and takes `profile_for_version`; a server
that gives no version (not vLLM, unreachable, an old proxy) gets the card minimum and a
one-line warning. The result is recorded in run.json (`agent_server`) and drives how the agent
parses, types and renders (docs/servers.md).
"""

from __future__ import annotations

from policy_agent.agent import AgentConfig
from policy_agent.format import CARD_MINIMUM, profile_for_version
from policy_agent.llm import server_version
from policy_agent.simulation._config import OracleAgentConfig
from policy_agent.trajectory import AgentServer

CONFIG_SOURCE = "config"
"""`AgentServer.detected_from` when `agent.server_profile` names the profile."""


async def detect_agent_server(
    agent: AgentConfig | OracleAgentConfig,
) -> tuple[AgentServer | None, str | None]:
    """The server profile of a run's `agent` and, when the card minimum had to be assumed, a
    warning. None for the oracle (no server). Never raises: an unanswered question is the
    warning."""
    if not isinstance(agent, AgentConfig):
        return None, None
    named = agent.named_profile()
    if named is not None:
        return AgentServer(profile=named.name, detected_from=CONFIG_SOURCE), None
    servers = agent.model.servers
    if not servers:
        reason = "the agent's model has no api_base to ask"
        return _card_minimum(reason), _warning(reason)
    answer = await server_version(servers[0])
    if answer.version is None:
        reason = f"GET {answer.url}: {answer.problem}"
        return _card_minimum(reason), _warning(reason)
    profile = profile_for_version(answer.version)
    return AgentServer(profile=profile.name, version=answer.version, detected_from=answer.url), None


def _card_minimum(reason: str) -> AgentServer:
    return AgentServer(profile=CARD_MINIMUM.name, detected_from=f"card minimum ({reason})")


def _warning(reason: str) -> str:
    return (
        f"the agent's vLLM version is unknown ({reason}); assuming the card minimum "
        f"{CARD_MINIMUM.name} (set agent.server_profile or --server-profile to choose)"
    )
