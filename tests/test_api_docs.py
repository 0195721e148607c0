"""docs/api.md's examples run as they stand, and the top-level names are the subpackages' own."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import policy_agent

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLES = re.findall(r"```python\n(.*?)```", (REPOSITORY / "docs" / "api.md").read_text(), re.S)


def test_the_api_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_an_api_example_runs(code: str) -> None:
    # Each in a fresh interpreter at the repository's root, as a user would paste it.
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_every_top_level_name_is_its_subpackages() -> None:
    for name in policy_agent.__all__:
        if name == "__version__":
            continue
        value = getattr(policy_agent, name)
        home = policy_agent._HOMES[name]
        assert value is getattr(importlib.import_module(f"policy_agent.{home}"), name), name


def test_an_unknown_top_level_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulation_config'"):
        _ = policy_agent.simulation_config  # type: ignore[attr-defined]
