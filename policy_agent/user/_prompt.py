"""What the user model reads: our guidelines, the scenario, and the conversation with roles flipped.

The user model is a generic chat model (gpt-4.1, or any vLLM model with a tool parser), so the
conversation goes as OpenAI chat messages: the agent's messages are its `user` turns, its own
earlier messages are `assistant` turns, and its own tool calls and their results are OpenAI
`tool_calls` and `tool` messages. The agent's tool calls and results never reach it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any, assert_never

from policy_agent.domain import StructuredInstructions, UserScenario
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)


@cache
def default_guidelines(*, tools: bool) -> str:
    """The built-in simulation guidelines; with `tools`, the part on the user's own tools too."""
    package = resources.files("policy_agent.user")
    text = package.joinpath("guidelines.md").read_text(encoding="utf-8").strip()
    if tools:
        extra = package.joinpath("guidelines_tools.md").read_text(encoding="utf-8").strip()
        text = f"{text}\n\n{extra}"
    return text


def render_scenario(scenario: UserScenario) -> str:
    """The scenario as the user model reads it: the persona, then the instructions."""
    parts = []
    if scenario.persona:
        parts.append(f"Persona:\n{scenario.persona.strip()}")
    instructions = scenario.instructions
    if isinstance(instructions, StructuredInstructions):
        fields = [
            ("Domain", instructions.domain),
            ("Reason for call", instructions.reason_for_call),
            ("Known info", instructions.known_info),
            ("Unknown info", instructions.unknown_info),
            ("Task instructions", instructions.task_instructions),
        ]
        body = "\n\n".join(f"{label}:\n{value.strip()}" for label, value in fields if value)
    else:
        body = instructions.strip()
    parts.append(f"Instructions:\n{body}")
    return "\n\n".join(parts)


def system_prompt(guidelines: str, scenario: UserScenario) -> str:
    """The user model's system message: the guidelines, then the scenario in `<scenario>` tags."""
    return f"{guidelines.strip()}\n\n<scenario>\n{render_scenario(scenario)}\n</scenario>"


def user_view(history: Sequence[ConversationRecord]) -> list[dict[str, Any]]:
    """The conversation as the user model sees it (without the system prompt), roles flipped."""
    messages: list[dict[str, Any]] = []
    for record in history:
        match record:
            case AgentMessage():
                messages.append({"role": "user", "content": record.content})
            case UserMessage():
                messages.append({"role": "assistant", "content": record.content})
            case UserToolCall():
                call = {
                    "id": record.call_id,
                    "type": "function",
                    "function": {
                        "name": record.name,
                        "arguments": json.dumps(record.arguments, ensure_ascii=False),
                    },
                }
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            case ToolResult():
                if record.requestor == "user":
                    messages.append(
                        {"role": "tool", "content": record.content, "tool_call_id": record.call_id}
                    )
            case AgentToolCall():
                pass  # what the agent does behind the scenes is not the customer's to see
            case _:
                assert_never(record)
    return messages
