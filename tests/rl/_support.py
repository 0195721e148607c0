"""The hotel pack and a model-agent config for the env tests; the oracle's actions as a policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack, load_pack
from policy_agent.rl import oracle_policy
from policy_agent.simulation import SimulationConfig

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


def hotel_policy() -> tuple[DomainPack, dict[str, list[str]]]:
    """The pack and, per task id, the completions of its oracle episode."""
    pack = load_pack(HOTEL)
    return pack, oracle_policy(model_config(), pack)
