"""policy-agent: policy-driven customer-service agents for open reasoning models.

The names most pack authors need are here; everything else lives in its subpackage
(`policy_agent.domain`, `policy_agent.format`, `policy_agent.environment`, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy_agent.environment import ToolError

__version__ = "0.1.0"

__all__ = ["ToolError", "__version__"]


def __getattr__(name: str) -> object:
    # Lazy, so that `import policy_agent` (every CLI start) does not load the environment.
    if name == "ToolError":
        from policy_agent.environment import ToolError

        return ToolError
    raise AttributeError(f"module 'policy_agent' has no attribute {name!r}")
