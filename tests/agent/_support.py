"""Constants and helpers shared by the agent tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import JsonValue

from tests._models import request_bodies

__all__ = ["CRIBS_CALL", "HOTEL", "POLICY", "TOOLS", "request_bodies"]

HOTEL = Path(__file__).parents[2] / "domains" / "hotel"

POLICY = "Be kind. Cribs need 24 hours' notice."
TOOLS: list[dict[str, JsonValue]] = [
    {
        "type": "function",
        "function": {
            "name": "request_cribs",
            "description": "Add cribs to a booking.",
            "parameters": {
                "type": "object",
                "properties": {
                    "booking_id": {"type": "string", "description": "e.g. B11246"},
                    "count": {"type": "integer"},
                },
                "required": ["booking_id", "count"],
            },
        },
    }
]
"""A one-tool agent whose prompts are short enough to write out in full."""

CRIBS_CALL = (
    "<tool_call>\n<function=request_cribs>\n<parameter=booking_id>\nB11246\n</parameter>\n"
    "<parameter=count>\n3\n</parameter>\n</function>\n</tool_call>"
)
"""The model's markup for request_cribs(booking_id="B11246", count=3)."""
