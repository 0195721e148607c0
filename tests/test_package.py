"""The top-level package: its public names, and that importing it stays light."""

import subprocess
import sys


def test_tool_error_is_the_environments() -> None:
    from policy_agent import ToolError
    from policy_agent.environment import ToolError as EnvironmentToolError

    assert ToolError is EnvironmentToolError


def test_import_loads_neither_litellm_nor_the_environment() -> None:
    # Every CLI start imports the package: it must not pay for litellm (seconds) or jsonschema.
    code = (
        "import sys, policy_agent, policy_agent.cli;"
        "print(sorted(m for m in ('litellm', 'policy_agent.environment') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
