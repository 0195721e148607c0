"""Which vLLM release line serves the agent: named in the config, or asked of the server.

`agent.server_profile: auto` (the default) asks the agent's first server `GET /version` when a
run starts (vLLM answers `{"version": "0.21.0"}`) and takes `profile_for_version`; a server
that gives no version (not vLLM, unreachable, an old proxy) gets the card minimum and a
one-line warning. The result is recorded in run.json (`agent_server`) and drives how the agent
parses, types and renders (docs/servers.md).

`agent_model_warnings` is the check before the run on the model itself: whether the server's
model is one the card's format is known for (`format.is_card_model`), and, when thinking is
asked on the chat transport, whether the server's chat template reads `enable_thinking`
(`llm.thinking_switch`). Its warnings are said once per run and kept in `agent_server.warnings`.
"""

from __future__ import annotations

from policy_agent.agent import AgentConfig
from policy_agent.format import CARD_MINIMUM, is_card_model, profile_for_version
from policy_agent.llm import served_model, server_version, thinking_switch
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


async def agent_model_warnings(agent: AgentConfig | OracleAgentConfig) -> tuple[str, ...]:
    """What is doubtful about the model the agent's first server serves: a model the card's
    format is not known for; a chat template that ignores `enable_thinking` when thinking is
    asked on the chat transport. None for the oracle or a model without an api_base. Never
    raises: a question the server cannot answer is said in the warning, or skipped."""
    if not isinstance(agent, AgentConfig) or not agent.model.servers:
        return ()
    config, server = agent.model, agent.model.servers[0]
    asks_thinking = (
        agent.transport == "chat" and config.thinking and config.sends_chat_template_kwargs
    )
    served = await served_model(config, server)
    switch = await thinking_switch(config, server) if asks_thinking else None
    warnings: list[str] = []
    if served.names and not is_card_model(served.names):
        unchecked = ""
        if switch is not None and switch.honoured is None:
            unchecked = (
                f"; whether its chat template reads enable_thinking could not be checked "
                f"(POST {switch.url}: {switch.problem})"
            )
        warnings.append(
            f"the agent's server serves {' / '.join(served.names)}, not a model the card's "
            "format is known for (Nemotron-Cascade-2, Nemotron-3 Nano or Super): on the chat "
            "transport the server renders the prompt with that model's own template, so "
            "`export --format chatml` is not what the model saw, and the format's system "
            f"prompt and tool-call markup may not be what it was trained on{unchecked}"
        )
    if switch is not None and switch.honoured is False:
        warnings.append(
            f"thinking is asked (agent.model.thinking: true), but the agent's chat template "
            f"ignores enable_thinking: POST {switch.url} rendered the same {switch.tokens} "
            "tokens with it true and false, so the template alone decides whether the model "
            "thinks; set thinking: false, or serve a template that reads enable_thinking"
        )
    return tuple(warnings)
