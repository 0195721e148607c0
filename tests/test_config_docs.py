"""docs/config.md documents every field of the run config and of scripts, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from policy_agent.agent import ViolationPolicy
from policy_agent.llm import ModelConfig
from policy_agent.scripted import Script
from policy_agent.scripted._script import (
    Answer,
    Fault,
    Rule,
    RulesRole,
    ScriptedToolCall,
    SeedRole,
    SequenceRole,
)
from policy_agent.simulation import SimulationConfig
from policy_agent.simulation._config import ModelAgentConfig, OracleAgentConfig
from policy_agent.user import UserConfig

DOC = (Path(__file__).parents[1] / "docs" / "config.md").read_text(encoding="utf-8")

MODELS: list[type[BaseModel]] = [
    SimulationConfig,
    ModelAgentConfig,
    OracleAgentConfig,
    ViolationPolicy,
    ModelConfig,
    UserConfig,
    Script,
    SequenceRole,
    RulesRole,
    Rule,
    SeedRole,
    Answer,
    ScriptedToolCall,
    Fault,
]


def _documented(model: type[BaseModel]) -> list[str]:
    """The fields in the table that follows the line naming `(Model)`."""
    start = DOC.index(f"({model.__name__})")
    table = DOC[start:].split("\n\n", 3)
    rows = next(part for part in table if part.startswith("| field |"))
    return re.findall(r"^\| `([a-z_]+)` \|", rows, flags=re.M)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_field_is_documented_and_no_other(model: type[BaseModel]) -> None:
    documented = _documented(model)
    assert len(documented) == len(set(documented))
    assert sorted(documented) == sorted(model.model_fields)


def test_the_agent_user_and_script_models_are_all_covered() -> None:
    # A new model nested in a config (a new role mode, say) needs a table here too.
    nested = {
        ModelAgentConfig.model_fields["model"].annotation,
        ModelAgentConfig.model_fields["violations"].annotation,
        SimulationConfig.model_fields["user"].annotation,
    }
    assert nested <= set(MODELS)
