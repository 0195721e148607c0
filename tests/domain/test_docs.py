"""The YAML examples in docs/packs.md are valid pack content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from policy_agent.domain import DomainFile, Tables, Task, ToolSpec

DOC = Path(__file__).parents[2] / "docs" / "packs.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_examples() -> None:
    assert len(BLOCKS) >= 7


@pytest.mark.parametrize("block", BLOCKS)
def test_each_example_validates(block: str) -> None:
    data = yaml.safe_load(block)
    if isinstance(data, dict) and "implementation" in data:
        ToolSpec.model_validate({"name": "an_op_on_its_own", **data})
    elif isinstance(data, list) and "user_scenario" in data[0]:
        TypeAdapter(list[Task]).validate_python(data)
    elif isinstance(data, list):
        data[0]["implementation"] = {"op": "respond"}  # the guide elides it as {...}
        TypeAdapter(list[ToolSpec]).validate_python(data)
    elif isinstance(data, dict) and "user_simulator" in data:
        # A part of domain.yaml: the least of a pack around it.
        DomainFile.model_validate({"name": "x", "policy": "p", "tools": [], "database": {}, **data})
    elif data is None:
        assert block.startswith("# yaml-language-server: $schema=")
    else:
        TypeAdapter(Tables).validate_python(data)
