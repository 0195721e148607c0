"""A tiny dual-control pack and tasks built in code, and helpers shared by the user tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_agent.domain import DomainPack, Task, ToolSpec
from tests._models import request_bodies

__all__ = [
    "HERE",
    "PHONE_TOOLS",
    "PLAIN_TASK",
    "SCRIPTED_TASK",
    "TASK",
    "make_pack",
    "request_bodies",
]

HERE = Path(__file__).parent

TASK = Task.model_validate(
    {
        "id": "cribs_1",
        "user_scenario": {
            "persona": "Ana Lee, a tired parent who types in short sentences.",
            "instructions": {
                "domain": "hotel",
                "reason_for_call": "You need three cribs for booking B11246.",
                "known_info": "Your booking id is B11246.",
                "unknown_info": "You do not know the check-in time.",
                "task_instructions": "Accept two cribs if three are not possible.",
            },
        },
    }
)
"""A task with structured instructions and a persona."""

PLAIN_TASK = Task.model_validate(
    {"id": "plain", "user_scenario": {"instructions": "Ask for a late checkout.\n"}}
)
"""A task with free-text instructions and no persona."""

SCRIPTED_TASK = Task.model_validate(
    {
        "id": "scripted_1",
        "user_scenario": {
            "instructions": "Ask for cribs.",
            "script": ["I need three cribs for B11246.", "Thanks, that's all. ###STOP###"],
        },
    }
)

PHONE_TOOLS: list[dict[str, Any]] = [
    {
        "name": "check_phone",
        "description": "Look at the phone's status bar.",
        "kind": "read",
        "implementation": {"op": "get", "table": "phone", "key": "'main'"},
    },
    {
        "name": "set_airplane_mode",
        "description": "Turn airplane mode on or off.",
        "kind": "write",
        "parameters": {"on": {"type": "boolean"}},
        "implementation": {
            "op": "update",
            "table": "phone",
            "key": "'main'",
            "set": {"airplane_mode": "on"},
        },
    },
]
"""The user's own tools, acting on its phone (the user database)."""


def make_pack(*, user_tools: bool) -> DomainPack:
    """A one-tool telecom pack, with or without the user's phone tools and database."""
    agent_tool = {
        "name": "check_line",
        "kind": "read",
        "parameters": {"line_id": {"type": "string"}},
        "implementation": {"op": "get", "table": "lines", "key": "line_id"},
    }
    return DomainPack(
        root=HERE,
        repository=HERE,
        name="telecom",
        description="A phone company for tests.",
        version="0.1.0",
        policy="Help with the customer's line.",
        tools=(ToolSpec.model_validate(agent_tool),),
        user_tools=tuple(ToolSpec.model_validate(t) for t in PHONE_TOOLS) if user_tools else (),
        database={"lines": {"L1": {"status": "active"}}},
        user_database=(
            {"phone": {"main": {"airplane_mode": True, "signal": "none"}}} if user_tools else {}
        ),
        tasks=(TASK, PLAIN_TASK, SCRIPTED_TASK),
    )
