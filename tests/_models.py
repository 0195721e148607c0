"""Models for tests: a script's answers in process, or over HTTP from a `ScriptedServer`.

Tests about what a model says — agent logic, the user simulator, the judge, the runner, what a
run records — get their answers in process, from `ScriptedModels`: `ScriptedModelClient`s that
answer exactly as a `ScriptedServer` of the same script answers a real `LLMClient` (pinned by
tests/scripted/test_client.py), without sockets or litellm. Tests about the wire — request
bodies as sent, transports, HTTP faults and retries, the server, the CLI end to end — use the
server. Both keep what they were asked as `RecordedRequest`s in `requests`, so a test reads the
same either way (`request_bodies`).
"""

from __future__ import annotations

import socket
from typing import Any, Protocol

from policy_agent.llm import ModelClient, ModelConfig
from policy_agent.scripted import RecordedRequest, Script, ScriptedModelClient, ScriptedServer
from policy_agent.scripted._responder import Responder
from policy_agent.simulation import ModelAgentConfig, SimulationConfig

HTTP_TIMEOUT_S = 60.0
"""Seconds per model call over loopback HTTP in tests that are not about timeouts: a call takes
milliseconds, and a busy machine five times slower must not turn one into an `LLMTimeout`."""


class ScriptedModels:
    """A script's roles answered in process, as one `ScriptedServer` of it would answer them.

    Every client made here shares one position in the script (as one server's clients do) and
    one `requests` list, oldest first across the roles, as the server keeps it.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self._responder = Responder(script)
        self.requests: list[RecordedRequest] = []

    @classmethod
    def of(cls, roles: dict[str, Any], **fields: Any) -> ScriptedModels:
        """`ScriptedModels.of({"agent": {"answers": [...]}}, latency_ms=...)`: the script's data."""
        return cls(Script.model_validate({"roles": roles, **fields}))

    def client(self, config: ModelConfig, role: str) -> ScriptedModelClient:
        """A client for `role` configured by `config` (which it must match where it is used)."""
        client = ScriptedModelClient(self.script, config, role=role, responder=self._responder)
        # One list for every client, as the server has one: a test sees the order of all calls.
        client.requests = self.requests
        return client

    def clients(self, config: SimulationConfig) -> dict[str, ModelClient]:
        """A client for each role `config` gives a model, for `Simulation(..., clients=...)`."""
        models: dict[str, ModelConfig] = {}
        if isinstance(config.agent, ModelAgentConfig):
            models["agent"] = config.agent.model
        if config.user.model is not None:
            models["user"] = config.user.model
        if config.judge is not None:
            models["judge"] = config.judge
        return {role: self.client(model, role) for role, model in models.items()}


Models = ScriptedServer | ScriptedModels
"""Where a test's answers come from: over HTTP or in process."""


def model_config(
    source: Models | str, role: str, *, model_name: str | None = None, **fields: Any
) -> ModelConfig:
    """A config for `role` on `source` (a server, its URL, or in-process models): no retries,
    no backoff, the generous `HTTP_TIMEOUT_S`; `fields` override.

    The model is `hosted_vllm/ROLE`, which the scripted server answers as `role`, unless
    `model_name` names another (a test of how a model's name is sent)."""
    match source:
        case ScriptedModels():
            api_base = None
        case ScriptedServer():
            api_base = source.base_url
        case str():
            api_base = source
    defaults: dict[str, Any] = {"retries": 0, "retry_backoff": 0, "timeout": HTTP_TIMEOUT_S}
    name = model_name or f"hosted_vllm/{role}"
    return ModelConfig(model=name, api_base=api_base, **(defaults | fields))


def closed_port_url() -> str:
    """The base URL of a loopback port nothing listens on (a server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe is closed.
    return f"http://127.0.0.1:{port}/v1"


class _Recording(Protocol):
    @property
    def requests(self) -> list[RecordedRequest]: ...


def request_bodies(source: _Recording) -> list[dict[str, Any]]:
    """The JSON bodies `source` (a server or in-process models) was asked with, oldest first."""
    bodies = []
    for request in source.requests:
        assert isinstance(request.body, dict)
        bodies.append(request.body)
    return bodies
