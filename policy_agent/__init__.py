"""policy-agent: policy-driven customer-service agents for open reasoning models.

The names most users need, from loading a pack to reading a run (docs/api.md shows them at
work); everything else lives in its subpackage (`policy_agent.format`, `.environment`, ...):

- packs: `load_pack`, `DomainPack`, `PackError`
- runs: `load_config`, `SimulationConfig`, `simulate`, `Simulation`
- models: `ModelConfig`, `ModelClient`, `LLMClient`, `Agent`, `AgentConfig`
- test doubles: `ScriptedModelClient` (in process), `ScriptedServer` (over HTTP), `Script`
- scores and runs on disk: `Evaluator`, `load_run`, `build_report`, `Episode`, `RewardInfo`,
  `TerminationReason`
- errors: `PolicyAgentError` (the root of every error), `ToolError` (raised by a Python tool to
  refuse a call; the model reads its message)

Each is loaded on first use, so `import policy_agent` (every CLI start) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy_agent.agent import Agent, AgentConfig
    from policy_agent.domain import DomainPack, PackError, load_pack
    from policy_agent.environment import ToolError
    from policy_agent.errors import PolicyAgentError
    from policy_agent.evaluation import Evaluator
    from policy_agent.llm import LLMClient, ModelClient, ModelConfig
    from policy_agent.records import Episode, RewardInfo, TerminationReason
    from policy_agent.report import build_report, load_run
    from policy_agent.scripted import Script, ScriptedModelClient, ScriptedServer
    from policy_agent.simulation import Simulation, SimulationConfig, load_config, simulate

__version__ = "0.1.0"

_HOMES = {
    "Agent": "agent",
    "AgentConfig": "agent",
    "DomainPack": "domain",
    "PackError": "domain",
    "load_pack": "domain",
    "ToolError": "environment",
    "PolicyAgentError": "errors",
    "Evaluator": "evaluation",
    "LLMClient": "llm",
    "ModelClient": "llm",
    "ModelConfig": "llm",
    "Episode": "records",
    "RewardInfo": "records",
    "TerminationReason": "records",
    "build_report": "report",
    "load_run": "report",
    "Script": "scripted",
    "ScriptedModelClient": "scripted",
    "ScriptedServer": "scripted",
    "Simulation": "simulation",
    "SimulationConfig": "simulation",
    "load_config": "simulation",
    "simulate": "simulation",
}

__all__ = [
    "Agent",
    "AgentConfig",
    "DomainPack",
    "Episode",
    "Evaluator",
    "LLMClient",
    "ModelClient",
    "ModelConfig",
    "PackError",
    "PolicyAgentError",
    "RewardInfo",
    "Script",
    "ScriptedModelClient",
    "ScriptedServer",
    "Simulation",
    "SimulationConfig",
    "TerminationReason",
    "ToolError",
    "__version__",
    "build_report",
    "load_config",
    "load_pack",
    "load_run",
    "simulate",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'policy_agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"policy_agent.{home}"), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value
