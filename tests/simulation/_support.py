"""Helpers shared by the simulation tests: configs, one-episode runs, scripted answers."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from policy_agent.domain import DomainPack
from policy_agent.format import render_tool_call
from policy_agent.llm import ModelConfig
from policy_agent.records import Episode
from policy_agent.scripted import ScriptedServer
from policy_agent.simulation import Simulation, SimulationConfig

REPOSITORY = Path(__file__).resolve().parents[2]
HOTEL = REPOSITORY / "domains" / "hotel"
DEMO = REPOSITORY / "simulations" / "hotel-demo.yaml"
VLLM = REPOSITORY / "simulations" / "hotel-vllm.yaml"


def model(server: ScriptedServer | str, role: str, **fields: Any) -> dict[str, Any]:
    """A model config (as data) for `role` on `server`: no retries, short timeout."""
    api_base = server if isinstance(server, str) else server.base_url
    defaults: dict[str, Any] = {"retries": 0, "retry_backoff": 0, "timeout": 5}
    config = ModelConfig(model=f"hosted_vllm/{role}", api_base=api_base, **(defaults | fields))
    return config.model_dump(mode="json")


def sim_config(**fields: Any) -> SimulationConfig:
    """A config on the hotel pack: the oracle and the scripted user unless given."""
    data: dict[str, Any] = {
        "domain": str(HOTEL),
        "agent": {"kind": "oracle"},
        "user": {"kind": "scripted"},
    }
    return SimulationConfig.model_validate(data | fields)


async def play_one(
    config: SimulationConfig, pack: DomainPack, task_id: str, trial: int = 0
) -> Episode:
    """Play and evaluate one episode of `task_id` as the runner would."""
    simulation = Simulation(config, pack)
    try:
        planned = next(p for p in simulation.episodes if p.key == (task_id, trial))
        return await simulation.play(planned)
    finally:
        await simulation.aclose()


def call(name: str, arguments: dict[str, JsonValue]) -> dict[str, Any]:
    """The scripted answer of an agent tool call (chat transport, card style)."""
    return {"reasoning": f"Next: {name}.", "content": render_tool_call(name, arguments).strip()}


def say(text: str) -> dict[str, Any]:
    """The scripted answer of an agent message (chat transport, card style)."""
    return {"reasoning": "Reply.", "content": text}


def lookup_then_thanks() -> dict[str, Any]:
    """Roles for any number of concurrent episodes: the user asks to be looked up, the agent
    looks the guest up and says it is set, the user thanks it and stops (four calls each)."""
    return {
        "agent": {
            "mode": "rules",
            "rules": [{"contains": "first_name", "answer": say("All set.")}],
            "fallback": call("get_guest_details", {"guest_id": "G90974"}),
        },
        "user": {
            "mode": "rules",
            "rules": [{"contains": "All set", "answer": "Thanks. ###STOP###"}],
            "fallback": "Please look me up.",
        },
    }


def closed_port_url() -> str:
    """The base URL of a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
