"""What the script-from-run tests share: the run seed, violating answers, comparable records."""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

from policy_agent.format import render_tool_call
from policy_agent.records import Episode

RUN_SEED = 7


def two_calls(*calls: tuple[str, dict[str, JsonValue]]) -> dict[str, Any]:
    """One answer with several tool calls: a violation of one action per turn."""
    return {"reasoning": "Both at once.", "content": "".join(render_tool_call(*c) for c in calls)}


def said(episode: Episode) -> list[dict[str, Any]]:
    """What an episode's records and violations say, without times, token counts and the
    address of the server that answered (each replay serves on a port of its own)."""
    volatile: dict[str, Any] = {
        "timestamp": True,
        "duration_ms": True,
        "generation": {"usage", "latency_ms", "api_base"},
    }
    return [
        *(r.model_dump(mode="json", exclude=volatile) for r in episode.messages),
        *(e.model_dump(mode="json", exclude=volatile) for e in episode.events),
    ]
